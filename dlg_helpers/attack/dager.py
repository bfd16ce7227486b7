"""DAGER (Petrov et al., NeurIPS 2024): the exact sentences of a batch, from a decoder's update.

A transformer block starts with a linear layer, and for a linear layer the weight gradient is
``Σ_r z_r δ_rᵀ`` (the chapter on the background derives it): its columns lie in the span of the
layer's inputs ``z_r``, one per token of the batch. While the batch has fewer tokens than the
model is wide, that span is a proper subspace, and it says which inputs were there:

1. **Which tokens.** The first block's input at position ``p`` is ``LN(e_v + w_p)``, a function
   of the token ``v`` alone. Every token of the vocabulary is tried at each position; those whose
   input lies in the span of the first block's gradient were in the batch (:func:`candidates`).
2. **In which order.** The second block's input at position ``p`` depends on the tokens up to
   ``p`` (the attention is causal). A sentence is grown one token at a time, keeping an
   extension only when its second-block input lies in the span of the second block's gradient
   (:func:`dager`). A sentence that no candidate extends has ended.

A client that fine-tunes LoRA adapters shares the up-projection's gradient, whose rows lie in
the span of the down-projected inputs ``A z_r``: the same test, in the adapter's ``r``
dimensions, which can hold at most ``r`` tokens' inputs apart.

The attack sees the model (the server sent it) and the update; the sentences are compared with
the private ones only afterwards (:mod:`~dlg_helpers.measures.text_recovery`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch

from ..client.language_model import TextUpdate

__all__ = ["TOLERANCE_SHARE", "CHUNK", "MAX_EXTENSIONS", "NOISE_EDGE", "CLEAN_DROP", "Span",
           "gradient_span", "candidates", "FirstBlock", "DagerResult", "dager"]

TOLERANCE_SHARE = 0.1
"""An input counts as in the span when its relative distance from it is below this share of the
distance a random direction has (``sqrt(1 - rank / width)``): true tokens sit at the rounding
of the single-precision test, about 1e-3, and anything else near the random level."""

CHUNK = 1024  # extensions through the first block at once (memory: their keys and values)

MAX_EXTENSIONS = 200_000
"""The most sentence extensions tried at one position. Beyond it the span is too wide to tell
tokens apart (a batch with nearly as many tokens as the model is wide), and the attack gives up
on the remaining positions."""


@dataclass(frozen=True)
class Span:
    """The subspace a block's gradient spans in its input space: an orthonormal ``basis``
    (k, rank) and, for LoRA, the adapter's down-projection ``down`` (k, width) that maps an
    input into it (None: the input space itself)."""

    basis: torch.Tensor
    down: torch.Tensor | None = None

    @property
    def rank(self) -> int:
        return self.basis.shape[1]

    @property
    def tolerance(self) -> float:
        """:data:`TOLERANCE_SHARE` of a random direction's relative distance from the span."""
        return TOLERANCE_SHARE * math.sqrt(max(0.0, 1 - self.rank / self.basis.shape[0]))

    def distance(self, inputs: torch.Tensor) -> torch.Tensor:
        """Each row's relative distance from the span (0 inside it, about 1 far from it).

        Computed as ``sqrt(1 - |Pz|² / |z|²)`` in single precision: a vocabulary's worth of
        inputs at a time, with a floor near 1e-3 from the rounding, far below any tolerance."""
        mapped = inputs if self.down is None else inputs @ self.down.T.to(inputs.dtype)
        inside = mapped @ self.basis.to(mapped.dtype)
        length = (mapped * mapped).sum(dim=1).clamp_min(1e-30)
        return (1 - (inside * inside).sum(dim=1) / length).clamp_min(0).sqrt()


NOISE_EDGE = 2.0
"""A noisy update's singular values stand out when above this many times their median: the
singular values of a matrix of pure Gaussian noise of these shapes stay below 1.7 times it."""

CLEAN_DROP = 1e3
"""A drop this steep between neighbouring singular values is the tokens' span ending in float
rounding (about 1e-7 of the largest): the update carries no noise."""


def _rank(singular: torch.Tensor) -> int:
    """How many directions the tokens span. Without noise, the spectrum falls by orders of
    magnitude where the tokens' span ends (:data:`CLEAN_DROP`): the rank is there. With noise on
    the update, it is the number of singular values that stand above the noise
    (:data:`NOISE_EDGE`)."""
    values = singular.clamp_min(singular[0] * 1e-30)
    drops = values[:-1].log() - values[1:].log()
    if len(drops) and float(drops.max()) > math.log(CLEAN_DROP):
        return int(drops.argmax()) + 1
    return max(1, int((singular > NOISE_EDGE * singular.median()).sum()))


def _named(update: TextUpdate, block: int, suffix: str) -> torch.Tensor:
    key = f"h.{block}.attn.c_attn.{suffix}"
    found = [g for name, g in update.gradients.items() if key in name]
    if len(found) != 1:
        raise KeyError(f"the update has no gradient of {key}: is it a GPT-2 update?")
    return found[0].double()


def gradient_span(model: Any, update: TextUpdate, block: int) -> Span:
    """The span of ``block``'s attention-projection inputs, read off its gradient in ``update``
    (of the weight, or of the LoRA up-projection, with the down-projection from ``model``)."""
    if update.lora_rank is None:
        gradient = _named(update, block, "weight")  # (width, 3 width): Σ z δᵀ
        down = None
    else:
        gradient = _named(update, block, "lora_B").T  # (rank, 3 width): Σ (A z) δᵀ
        layer = _transformer(model).h[block].attn.c_attn
        down = layer.lora_A["default"].weight.detach().double()
    left, singular, _ = torch.linalg.svd(gradient, full_matrices=False)
    return Span(left[:, :_rank(singular)], down)


def _transformer(model: Any) -> Any:
    return (model.get_base_model() if hasattr(model, "get_base_model") else model).transformer


def candidates(model: Any, span: Span, position: int) -> list[int]:
    """The tokens whose first-block input at ``position`` lies in ``span``, most likely first."""
    transformer = _transformer(model)
    with torch.no_grad():
        embedded = transformer.wte.weight + transformer.wpe.weight[position]
        distance = span.distance(transformer.h[0].ln_1(embedded))
    inside = (distance < span.tolerance).nonzero().flatten()
    return inside[distance[inside].argsort()].tolist()


class FirstBlock:
    """The first transformer block, run one position at a time for many sentences at once.

    The keys and values of the sentences grown so far are kept (a key-value cache), so
    extending a sentence by a token costs that token's pass through the block alone. What comes
    out is the second block's attention input (after its layer norm) at the new position:
    what the second block's gradient is checked against.
    """

    def __init__(self, model: Any) -> None:
        transformer = _transformer(model)
        self.embed, self.place = transformer.wte.weight, transformer.wpe.weight
        self.block, self.next_norm = transformer.h[0], transformer.h[1].ln_1
        attention = self.block.attn
        self.heads, self.head_dim = attention.num_heads, attention.head_dim
        self.scaling = getattr(attention, "scaling", self.head_dim ** -0.5)

    def empty(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values of the one empty sentence a search starts from."""
        shape = (1, self.heads, 0, self.head_dim)
        return torch.zeros(shape), torch.zeros(shape)

    def step(self, keys: torch.Tensor, values: torch.Tensor, parents: torch.Tensor,
             tokens: torch.Tensor, position: int
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Extend sentence ``parents[i]`` (whose keys and values are ``keys``, ``values``:
        (sentences, heads, position, head width)) by ``tokens[i]`` at ``position``.

        Returns:
            The second block's input at ``position`` (N, width), and the new token's key and
            value (N, heads, 1, head width).
        """
        with torch.no_grad():
            x = (self.embed[tokens] + self.place[position])[:, None]  # (N, 1, width)
            width = x.shape[-1]
            query, key, value = self.block.attn.c_attn(self.block.ln_1(x)).split(width, dim=2)
            query, key, value = (s.view(len(tokens), 1, self.heads, self.head_dim).transpose(1, 2)
                                 for s in (query, key, value))
            all_keys = torch.cat([keys[parents], key], dim=2)
            all_values = torch.cat([values[parents], value], dim=2)
            weights = torch.softmax(query @ all_keys.transpose(-1, -2) * self.scaling, dim=-1)
            mixed = (weights @ all_values).transpose(1, 2).reshape(len(tokens), 1, width)
            hidden = x + self.block.attn.c_proj(mixed)
            hidden = hidden + self.block.mlp(self.block.ln_2(hidden))
            return self.next_norm(hidden)[:, 0], key, value


@dataclass(frozen=True)
class DagerResult:
    """What DAGER recovered: the sentences (token ids, without the end token), the number of
    candidate tokens at each position it reached, the ranks it read off the two blocks, and
    whether it stopped because the span was too wide (:data:`MAX_EXTENSIONS`)."""

    sequences: list[list[int]]
    candidates: list[int]
    ranks: tuple[int, int]
    seconds: float
    overflowed: bool = False


def dager(model: Any, update: TextUpdate, max_length: int | None = None) -> DagerResult:
    """Recover the batch behind ``update`` from ``model`` (the weights the client started from)
    and the update alone.

    Sentences are grown position by position from the first block's candidates and kept while
    the second block's gradient vouches for them; at most ``max_length`` tokens (default: the
    model's context).
    """
    start = time.perf_counter()
    first, second = gradient_span(model, update, 0), gradient_span(model, update, 1)
    block = FirstBlock(model)
    limit = max_length or _transformer(model).wpe.weight.shape[0]
    growing: list[list[int]] = [[]]
    keys, values = block.empty()
    finished: list[list[int]] = []
    counts: list[int] = []
    overflowed = False
    for position in range(limit):
        tokens = torch.tensor(candidates(model, first, position), dtype=torch.long)
        counts.append(len(tokens))
        if len(growing) * len(tokens) > MAX_EXTENSIONS:
            overflowed = True
            break
        parents = torch.arange(len(growing)).repeat_interleave(len(tokens))
        tried = tokens.repeat(len(growing))
        kept_parents, kept_tokens, new_keys, new_values = [], [], [], []
        for chunk in range(0, len(tried), CHUNK):
            sl = slice(chunk, chunk + CHUNK)
            inputs, key, value = block.step(keys, values, parents[sl], tried[sl], position)
            inside = second.distance(inputs) < second.tolerance
            kept_parents.append(parents[sl][inside])
            kept_tokens.append(tried[sl][inside])
            new_keys.append(key[inside])
            new_values.append(value[inside])
        survivors = torch.cat(kept_parents) if kept_parents else torch.zeros(0, dtype=torch.long)
        continued = set(survivors.tolist())
        finished += [prefix for i, prefix in enumerate(growing) if prefix and i not in continued]
        if not len(survivors):
            growing = []
            break
        growing = [growing[i] + [t]
                   for i, t in zip(survivors.tolist(), torch.cat(kept_tokens).tolist())]
        keys = torch.cat([keys[survivors], torch.cat(new_keys)], dim=2)
        values = torch.cat([values[survivors], torch.cat(new_values)], dim=2)
    finished += [prefix for prefix in growing if prefix]
    return DagerResult(sorted(finished), counts, (first.rank, second.rank),
                       time.perf_counter() - start, overflowed)
