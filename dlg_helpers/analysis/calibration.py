"""Where "leaks" begins: every stored reconstruction judged in the gallery, the ladder of
pictures that calibrates :data:`~dlg_helpers.analysis.criteria.RECOGNISED_LIKENESS`, and the
counts that show what the threshold changes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..runs.record import RECORD_FILE, load_result
from .criteria import RECOGNISED_LIKENESS, leaks
from .gallery import identify
from .metrics import match_batch

__all__ = ["judged_images", "ladder", "calibration_counts"]


def judged_images(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every private image of every stored run under ``results_dir``: its run (``model/folder``),
    its place in the batch, its reconstruction and truth (1, 3, H, W), its ``likeness`` and
    gallery ``rank`` (:func:`~dlg_helpers.analysis.gallery.identify`), and whether it
    ``leaks``."""
    judged = []
    for record in sorted(Path(results_dir).glob(f"*/*/{RECORD_FILE}")):
        result = load_result(record.parent)
        matched = match_batch(result.reconstruction, result.truth)
        for i, (likeness, rank) in enumerate(identify(matched, result.truth)):
            judged.append({"run": f"{record.parent.parent.name}/{record.parent.name}", "index": i,
                           "reconstruction": matched[i:i + 1], "truth": result.truth[i:i + 1],
                           "likeness": likeness, "rank": rank, "leaks": leaks(likeness, rank)})
    return judged


def ladder(judged: Sequence[dict[str, Any]], rungs: Sequence[float]) -> list[dict[str, Any]]:
    """For each likeness in ``rungs``, the identified image (rank 1) whose likeness is nearest
    to it, each run used once: a ladder from faint to plain."""
    used: set[tuple[str, int]] = set()
    chosen = []
    for rung in rungs:
        candidates = [j for j in judged if j["rank"] == 1 and (j["run"], j["index"]) not in used]
        if not candidates:
            break
        best = min(candidates, key=lambda j: abs(j["likeness"] - rung))
        used.add((best["run"], best["index"]))
        chosen.append(best)
    return chosen


def calibration_counts(judged: Sequence[dict[str, Any]],
                       threshold: float = RECOGNISED_LIKENESS) -> dict[str, int]:
    """How many private images the stored runs hold, how many rank first in the gallery, and
    how many of those reach ``threshold`` (leak) or fall short of it."""
    first = [j for j in judged if j["rank"] == 1]
    return {"images": len(judged), "ranked_first": len(first),
            "leak": sum(j["likeness"] >= threshold for j in first),
            "short": sum(j["likeness"] < threshold for j in first)}
