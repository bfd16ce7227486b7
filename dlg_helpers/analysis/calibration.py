"""Where "leaks" begins: every stored reconstruction judged in the gallery, the ladder of
pictures that shows what a likeness looks like, and the counts that show what the decision
(:func:`~dlg_helpers.measures.criteria.leaks`) changes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..measures.criteria import leak_threshold, leaks
from ..measures.gallery import gallery_scores
from ..measures.metrics import match_batch
from ..runs.record import RECORD_FILE, load_result

__all__ = ["judged_images", "ladder", "calibration_counts"]


def judged_images(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every private image of every stored run under ``results_dir``: its run (``model/folder``),
    ``model`` and ``image`` name, its place in the batch, its reconstruction and truth
    (1, 3, H, W), its gallery scores ``likeness``, ``rank`` and ``lookalike``
    (:func:`~dlg_helpers.measures.gallery.gallery_scores`), and whether it ``leaks``."""
    judged = []
    for record in sorted(Path(results_dir).glob(f"*/*/{RECORD_FILE}")):
        result = load_result(record.parent)
        matched = match_batch(result.reconstruction, result.truth)
        for i, score in enumerate(gallery_scores(matched, result.truth)):
            run = f"{record.parent.parent.name}/{record.parent.name}"
            judged.append({"run": run, "index": i, "model": record.parent.parent.name,
                           "image": _image_name(run, i),
                           "reconstruction": matched[i:i + 1], "truth": result.truth[i:i + 1],
                           "likeness": score.likeness, "rank": score.rank,
                           "lookalike": score.lookalike,
                           "leaks": leaks(score.likeness, score.rank, score.lookalike)})
    return judged


def _image_name(run: str, index: int) -> str:
    images = run.split("/")[1].split("-seed")[0].split("+")
    return images[index] if index < len(images) else images[0]


def ladder(judged: Sequence[dict[str, Any]], rungs: Sequence[float],
           spread: float = 0.03) -> list[dict[str, Any]]:
    """For each likeness in ``rungs``, an identified image (rank 1) whose likeness is nearest to
    it: among those within ``spread`` of the nearest, one of a model and a picture not yet on
    the ladder when there is one, so the ladder is not one image many times."""
    used: set[tuple[str, int]] = set()
    seen_models: set[str] = set()
    seen_images: set[str] = set()
    chosen = []
    for rung in rungs:
        candidates = [j for j in judged if j["rank"] == 1 and (j["run"], j["index"]) not in used]
        if not candidates:
            break
        nearest = min(abs(j["likeness"] - rung) for j in candidates)
        close = [j for j in candidates if abs(j["likeness"] - rung) <= nearest + spread]
        best = min(close, key=lambda j: (j["model"] in seen_models, j["image"] in seen_images,
                                         abs(j["likeness"] - rung)))
        used.add((best["run"], best["index"]))
        seen_models.add(best["model"])
        seen_images.add(best["image"])
        chosen.append(best)
    return chosen


def calibration_counts(judged: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many private images the stored runs hold, how many rank first in the gallery, and
    how many of those reach their threshold (:func:`~dlg_helpers.measures.criteria.leak_threshold`,
    they leak) or fall short of it."""
    first = [j for j in judged if j["rank"] == 1]
    reached = [j["likeness"] >= leak_threshold(j["lookalike"]) for j in first]
    return {"images": len(judged), "ranked_first": len(first), "leak": sum(reached),
            "short": len(first) - sum(reached)}
