"""One attack as a table row, and the simplest aggregates over rows."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ..attack.trace import AttackResult
from .metrics import best_recovered, image_metrics

__all__ = ["result_row", "median_of", "success_count"]


def result_row(result: AttackResult, threshold: float = 1e-3) -> dict[str, Any]:
    """The numbers a results table shows for one attack. ``ssim`` is the batch's mean,
    ``best_ssim`` its best-recovered image's (:func:`~dlg_helpers.analysis.metrics.best_recovered`): what
    a batch hides is judged by the image that comes back best."""
    quality = image_metrics(result.reconstruction, result.truth)
    return {
        **quality,
        "best_ssim": best_recovered(result.reconstruction, result.truth)["ssim"],
        "label_true": result.label_true,
        "label_pred": result.label_pred,
        "label_correct": result.label_correct,
        "labels_recovered": result.labels_recovered,
        "reconstructed": quality["mse"] < threshold,
        "first_step_below": result.first_step_below(threshold),
        "first_aligned_step_below": result.first_step_below(threshold, "aligned_mse"),
        "settling_step": result.settling_step("mse"),
        "aligned_settling_step": result.settling_step("aligned_mse"),
        "steps": result.steps,
        "evaluations": result.evaluations,
        "seconds": result.wall_seconds,
        "restarts": len(result.attempts) - 1,
        "every_start_diverged": all(a.status == "diverged" for a in result.attempts),
        "status": result.status,
    }


def median_of(rows: Sequence[Mapping[str, Any]], key: str) -> float | None:
    """Median of ``key`` over the rows where it is not None (None when there are none)."""
    values = [row[key] for row in rows if row[key] is not None]
    return statistics.median(values) if values else None


def success_count(rows: Sequence[Mapping[str, Any]]) -> int:
    """How many attacks reconstructed the image (MSE below threshold) with the right label."""
    return sum(bool(row["reconstructed"] and row["label_correct"]) for row in rows)
