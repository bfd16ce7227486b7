"""One attack as a table row: every table, record and summary starts from :func:`result_row`."""

from __future__ import annotations

from typing import Any

from ..attack.trace import AttackResult
from .criteria import RECONSTRUCTED_MSE, diverged, reconstructed
from .metrics import best_recovered, image_metrics

__all__ = ["result_row"]


def result_row(result: AttackResult, threshold: float = RECONSTRUCTED_MSE) -> dict[str, Any]:
    """One attack as a table row: the one place a result becomes numbers.

    ``mse``, ``psnr``, ``ssim`` and ``aligned_mse`` are the batch's (its mean);
    ``best_mse``, ``best_psnr`` and ``best_ssim`` its best-recovered image's
    (:func:`~dlg_helpers.analysis.metrics.best_recovered`): what a batch hides is judged by the
    image that comes back best. ``reconstructed`` and ``first_step_below`` are judged against
    ``threshold``, which the row carries.
    """
    quality = image_metrics(result.reconstruction, result.truth)
    best = best_recovered(result.reconstruction, result.truth)
    return {
        **quality,
        "best_mse": best["mse"],
        "best_psnr": best["psnr"],
        "best_ssim": best["ssim"],
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
    }
