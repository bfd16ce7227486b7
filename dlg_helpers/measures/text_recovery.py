"""How much of a batch of private messages an attack recovered, scored against the truth only
after the attack: sentences recovered exactly, and tokens recovered in place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["TextScore", "score_text"]


@dataclass(frozen=True)
class TextScore:
    """``exact`` of the ``sentences`` private messages came back token for token; ``tokens`` of
    their ``total_tokens`` tokens stand at their place in the recovered sentence most like their
    message (each recovered sentence is matched to one message at most)."""

    exact: int
    sentences: int
    tokens: int
    total_tokens: int

    @property
    def exact_rate(self) -> float:
        return self.exact / self.sentences

    @property
    def token_rate(self) -> float:
        return self.tokens / self.total_tokens


def _in_place(found: Sequence[int], truth: Sequence[int]) -> int:
    return sum(a == b for a, b in zip(found, truth))


def score_text(recovered: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> TextScore:
    """Score ``recovered`` token sequences against the private ones (``truth``, end token
    excluded): exact matches as multisets (two identical messages need two recoveries), and
    tokens in place after pairing each message with the unused recovery that has the most
    tokens in place, best pairs first."""
    exact = sum((Counter(map(tuple, recovered)) & Counter(map(tuple, truth))).values())
    pairs = sorted(((_in_place(f, t), i, j) for i, t in enumerate(truth)
                    for j, f in enumerate(recovered)), reverse=True)
    used_truth: set[int] = set()
    used_found: set[int] = set()
    tokens = 0
    for count, i, j in pairs:
        if i in used_truth or j in used_found:
            continue
        used_truth.add(i)
        used_found.add(j)
        tokens += count
    return TextScore(exact, len(truth), tokens, sum(len(t) for t in truth))
