"""One attack as a table row: every table, record and summary starts from :func:`result_row`."""

from __future__ import annotations

from typing import Any

import torch

from ..attack.trace import AttackResult
from ..client.models import Normalisation
from .criteria import RECONSTRUCTED_MSE, diverged, leaks, reconstructed
from .gallery import gallery_scores
from .metrics import image_metrics, match_batch

__all__ = ["image_rows", "input_mse", "result_row"]


def image_rows(reconstruction: torch.Tensor, truth: torch.Tensor) -> list[dict[str, Any]]:
    """Each private image of a batch judged on its own: its reconstruction (paired by
    :func:`~dlg_helpers.measures.metrics.match_batch`) scored by
    :func:`~dlg_helpers.measures.metrics.image_metrics`, plus its gallery scores ``likeness``,
    ``rank`` and ``lookalike`` (:func:`~dlg_helpers.measures.gallery.gallery_scores`) and
    whether it ``leaks`` (:func:`~dlg_helpers.measures.criteria.leaks`, decided on those)."""
    matched = match_batch(reconstruction, truth)
    rows = []
    for i, score in enumerate(gallery_scores(matched, truth)):
        rows.append({**image_metrics(matched[i:i + 1], truth[i:i + 1]),
                     "likeness": score.likeness, "rank": score.rank,
                     "lookalike": score.lookalike,
                     "leaks": leaks(score.likeness, score.rank, score.lookalike)})
    return rows


def input_mse(reconstruction: torch.Tensor, truth: torch.Tensor,
              normalisation: Normalisation) -> float:
    """The MSE in the units the model takes (after ``normalisation``), as code that compares the
    tensors fed to the network reports it; for a model fed [0, 1] pixels it is the MSE."""
    matched = match_batch(reconstruction, truth)
    return float(((normalisation.to_model_input(matched.float())
                   - normalisation.to_model_input(truth.float())) ** 2).mean())


def result_row(result: AttackResult, threshold: float = RECONSTRUCTED_MSE,
               normalisation: Normalisation | None = None) -> dict[str, Any]:
    """One attack as a table row: the one place a result becomes numbers.

    ``mse``, ``psnr``, ``ssim`` (the report's measures), ``aligned_mse``, ``r2``,
    ``corrected_psnr`` and ``corrected_ssim`` are the batch's (its mean); ``likeness`` and
    ``rank`` and the ``best_*`` scores are its best-recovered image's, the one most like its
    private image (:func:`image_rows`): what a batch hides is judged by the image that comes back
    best. ``image_likeness``, ``image_rank`` and ``image_lookalike`` keep every image's gallery
    scores, in the batch's order (what a stored table keeps). ``batch`` is the number of private
    images, ``identified`` counts those that leak, ``leaks`` says whether any does, both decided
    by the course's one definition of leakage (:func:`~dlg_helpers.measures.criteria.leaks`). ``reconstructed``
    and ``first_step_below`` are judged against ``threshold`` (the report's MSE), which the row
    carries. Given the model's
    ``normalisation``, ``input_mse`` is the MSE in the model's input units (:func:`input_mse`).
    """
    quality = image_metrics(result.reconstruction, result.truth)
    images = image_rows(result.reconstruction, result.truth)
    best = max(images, key=lambda image: image["likeness"])
    identified = sum(image["leaks"] for image in images)
    return {
        **quality,
        **{f"best_{key}": best[key] for key in ("mse", "psnr", "ssim", "r2", "corrected_ssim")},
        "likeness": best["likeness"],
        "rank": best["rank"],
        "lookalike": best["lookalike"],
        **{f"image_{key}": [image[key] for image in images]
           for key in ("likeness", "rank", "lookalike")},
        "batch": len(images),
        "identified": identified,
        "leaks": identified > 0,
        "label_true": result.label_true,
        "label_pred": result.label_pred,
        "label_correct": result.label_correct,
        "labels_recovered": result.labels_recovered,
        "threshold": threshold,
        "reconstructed": reconstructed(quality["mse"], threshold),
        "first_step_below": result.first_step_below(threshold),
        "first_aligned_step_below": result.first_step_below(threshold, "aligned_mse"),
        "settling_step": result.settling_step("mse"),
        "aligned_settling_step": result.settling_step("aligned_mse"),
        "steps": result.steps,
        "evaluations": result.evaluations,
        "seconds": result.wall_seconds,
        "best_distance": result.best_distance,
        "restarts": len(result.attempts) - 1,
        "every_start_diverged": diverged(result),
        "status": result.status,
        **({} if normalisation is None else
           {"input_mse": input_mse(result.reconstruction, result.truth, normalisation)}),
    }
