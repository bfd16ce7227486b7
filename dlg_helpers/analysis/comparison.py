"""Stored runs side by side: collect them by group, summarise each group with medians and spread,
for the analysis chapters to read and glue into their prose (the book's
:func:`~dlg_helpers.book.tables.summary_table` shows a summary).

The analysis chapters only read runs: a group lists the :class:`~dlg_helpers.runs.spec.RunSpec` s it
wants, :func:`collect` loads those that are stored and returns the commands that would make the
others (hours on a CPU, so they run in the background, not inside a chapter).
"""

from __future__ import annotations

import logging

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..attack.trace import AttackResult
from ..client.models import get_spec
from ..measures.criteria import RECONSTRUCTED_MSE, reconstructed
from ..measures.intervals import median_interval, wilson
from ..measures.rows import result_row
from ..runs.spec import RunSpec
from ..runs.store import stored_result

__all__ = ["unreconstructed", "orders_apart", "Collected", "collect",
           "group_summary", "summaries", "value", "leak_counts", "identified_counts",
           "tested_sizes", "paired_orders", "attempt_counts"]

# What was loaded, computed or missing: shown by the command line, not in the chapters.
_LOG = logging.getLogger(__name__)


@dataclass
class Collected:
    """The stored runs of each group, their table rows, and the commands for those missing."""

    results: dict[str, list[AttackResult]]
    rows: list[dict[str, Any]]
    missing: list[str]


def missing_note(commands: Sequence[str]) -> str:
    """Says how many wanted runs are not stored and lists the ``commands`` that make them, run
    from the folder the results folder was given relative to (empty when none are missing)."""
    if not commands:
        return ""
    return (f"{len(commands)} wanted runs are not stored yet; make them in the "
            f"background, from this folder, with:\n" + "\n".join(commands))


def collect(groups: Mapping[str, Sequence[RunSpec]], results_dir: str | Path,
            threshold: float = RECONSTRUCTED_MSE) -> Collected:
    """Load the stored run of every spec in every group (nothing is computed).

    Each row is :func:`~dlg_helpers.measures.rows.result_row` (judged against ``threshold``,
    with ``input_mse`` in the model's input units) plus ``group``, ``model``, ``images``,
    ``size`` and ``seed``; ``missing`` holds the
    command of each run not stored.
    """
    results: dict[str, list[AttackResult]] = {}
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    for group, specs in groups.items():
        results[group] = []
        for spec in specs:
            result = stored_result(spec, results_dir, quiet=True)
            if result is None:
                missing.append(spec.command(spec.folder(results_dir)))
                continue
            results[group].append(result)
            rows.append({"group": group, "model": spec.model, "images": "+".join(spec.images),
                         "size": spec.image_size, "seed": spec.config.seed,
                         **result_row(result, threshold, get_spec(spec.model).normalisation)})
    return Collected(results, rows, missing)


_MEDIANS = ("mse", "aligned_mse", "ssim", "r2", "best_mse", "best_psnr", "best_ssim", "best_r2",
            "best_corrected_ssim", "likeness")


def _median_fields(key: str, values: Sequence[float]) -> dict[str, Any]:
    interval = median_interval(values)
    return {f"{key}_median": interval.median, f"{key}_low": interval.low,
            f"{key}_high": interval.high, f"{key}_coverage": interval.coverage}


def group_summary(rows: Sequence[Mapping[str, Any]], by: str | tuple[str, ...] = "group"
                  ) -> list[dict[str, Any]]:
    """The one summariser: one row per group of :func:`~dlg_helpers.measures.rows.result_row`
    rows, in first-seen order.

    A group is the rows with the same ``by`` key (or tuple of keys; ``group`` holds its value).
    Each summary gives how many ``runs``; how many ``leaked`` (the course's definition,
    :func:`~dlg_helpers.measures.criteria.leaks`) with the rate's 95 % Wilson interval
    (``leaked_low``, ``leaked_high``), and how many of its ``private_images`` were ``identified``;
    for each score in ``mse, aligned_mse, ssim, r2`` and the best-recovered image's ``best_*``
    and ``likeness`` the median with its order-statistic interval (``*_low``, ``*_high``, None
    for one run) and that interval's ``*_coverage``
    (:func:`~dlg_helpers.measures.intervals.median_interval`); the median PSNR and steps; runs
    with every label right, and labels recovered out of all private labels; how many runs
    reconstructed the image exactly (the report's MSE) with the right label (``successes``); how
    many reached an MSE below the rows' threshold and the median first step they did; median
    evaluations and wall time, seconds per evaluation over all runs, and how many runs diverged
    from every random start.

    Raises:
        ValueError: when a group's rows were judged against different thresholds.
    """
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for row in rows:
        key = row[by] if isinstance(by, str) else tuple(row[k] for k in by)
        groups.setdefault(key, []).append(row)
    summary = []
    for group, members in groups.items():
        reached = [r["first_step_below"] for r in members if r["first_step_below"] is not None]
        thresholds = {r["threshold"] for r in members}
        if len(thresholds) > 1:
            raise ValueError(f"group {group!r} mixes rows judged against thresholds "
                             f"{sorted(thresholds)}; collect each group with one threshold")
        leaked = sum(bool(r["leaks"]) for r in members)
        low, high = wilson(leaked, len(members))
        entry: dict[str, Any] = {"group": group, "runs": len(members),
                                 "threshold": thresholds.pop(), "leaked": leaked,
                                 "leaked_low": low, "leaked_high": high,
                                 "identified": sum(r["identified"] for r in members),
                                 "private_images": sum(r["batch"] for r in members)}
        for key in _MEDIANS:
            entry.update(_median_fields(key, [r[key] for r in members]))
        entry.update({
            "psnr": statistics.median(r["psnr"] for r in members),
            "steps": statistics.median(r["steps"] for r in members),
            "labels_right": sum(bool(r["label_correct"]) for r in members),
            "successes": sum(bool(r["reconstructed"] and r["label_correct"]) for r in members),
            "labels_recovered": sum(r["labels_recovered"] for r in members),
            "labels": sum(len(r["label_true"]) for r in members),
            "reached": len(reached),
            "first_below": statistics.median(reached) if reached else None,
            "evaluations": statistics.median(r["evaluations"] for r in members),
            "seconds": statistics.median(r["seconds"] for r in members),
            "seconds_per_evaluation": (sum(r["seconds"] for r in members)
                                       / sum(r["evaluations"] for r in members)),
            "all_diverged": sum(bool(r["every_start_diverged"]) for r in members),
        })
        entry["minutes"] = entry["seconds"] / 60
        summary.append(entry)
    return summary


def summaries(groups: Mapping[str, Sequence[RunSpec]], results_dir: str | Path,
              threshold: float = RECONSTRUCTED_MSE
              ) -> tuple[Collected, dict[str, dict[str, Any]]]:
    """:func:`collect` and :func:`group_summary` by group name; logs what is missing (and
    nothing when every run is stored)."""
    found = collect(groups, results_dir, threshold)
    if found.missing:
        _LOG.warning(missing_note(found.missing))
    return found, {row["group"]: row for row in group_summary(found.rows)}


def value(summary: Mapping[str, Mapping[str, Any]], group: str, key: str) -> Any:
    """``summary[group][key]``, or NaN for a group none of whose runs is stored yet."""
    return summary[group][key] if group in summary else math.nan


def leak_counts(summary: Mapping[str, Mapping[str, Any]], group: str) -> tuple[int, int]:
    """``(runs that leaked, runs)`` of a summary's ``group``; (0, 0) for a group none of whose
    runs is stored."""
    row = summary.get(group)
    return (0, 0) if row is None else (row["leaked"], row["runs"])


def identified_counts(summary: Mapping[str, Mapping[str, Any]], group: str) -> tuple[int, int]:
    """``(private images identified, private images)`` of a summary's ``group``; (0, 0) for a
    group none of whose runs is stored."""
    row = summary.get(group)
    return (0, 0) if row is None else (row["identified"], row["private_images"])


def tested_sizes(summary: Mapping[str, Mapping[str, Any]], groups: Mapping[str, str],
                 parameters: Mapping[str, int]) -> dict[str, tuple[int, int, int]]:
    """For :func:`~dlg_helpers.analysis.verdicts.larger_models_leak_less`: each model's
    ``(parameters, runs that leaked, runs)``, ``groups`` mapping a model's name to its group in
    ``summary``. Models none of whose runs is stored, or whose every run diverged from every
    start (which tests nothing about the gradient), are left out."""
    return {name: (parameters[name], summary[group]["leaked"], summary[group]["runs"])
            for name, group in groups.items()
            if group in summary and summary[group]["all_diverged"] < summary[group]["runs"]}


def paired_orders(rows: Sequence[Mapping[str, Any]], higher: str, lower: str,
                  key: str = "mse") -> dict[str, float]:
    """For each image both groups ran on: how many orders of magnitude group ``higher``'s
    ``key`` is above group ``lower``'s (negative when it is below).

    Raises:
        ValueError: when a group has two runs on one image (pair them by seed yourself), or a
            value is not positive.
    """
    values: dict[tuple[str, str], float] = {}
    for row in rows:
        if row["group"] in (higher, lower):
            pair = (row["group"], row["images"])
            if pair in values:
                raise ValueError(f"group {pair[0]!r} has two runs on {pair[1]!r}")
            if not row[key] > 0:
                raise ValueError(f"{key} of {pair} is {row[key]}; orders of magnitude need a "
                                 "positive value")
            values[pair] = row[key]
    return {images: math.log10(value / values[(lower, images)])
            for (group, images), value in values.items()
            if group == higher and (lower, images) in values}


def attempt_counts(results: Sequence[AttackResult]) -> dict[str, int]:
    """How the random starts of ``results`` ended: ``runs``, ``attempts`` and one count per
    ending (``diverged``, ``stalled``, ``plateaued``, ``matched``, ``budget``)."""
    counts = {"runs": len(results), "attempts": 0, "diverged": 0, "stalled": 0, "plateaued": 0,
              "matched": 0, "budget": 0}
    for result in results:
        for attempt in result.attempts:
            counts["attempts"] += 1
            counts[attempt.status] += 1
    return counts


def unreconstructed(runs: Mapping[str, AttackResult], step: int, metric: str = "aligned_mse",
                    threshold: float = RECONSTRUCTED_MSE) -> list[str]:
    """The images (runs by image name) whose ``metric`` after ``step`` steps does not count as
    reconstructed (:func:`~dlg_helpers.measures.criteria.reconstructed`)."""
    return [image for image, run in runs.items()
            if not reconstructed(run.value_at(step, metric), threshold)]


def orders_apart(higher: Mapping[str, AttackResult], lower: Mapping[str, AttackResult],
                 step: int, metric: str = "mse") -> dict[str, float]:
    """For each image both sets of runs hold (runs by image name), how many orders of magnitude
    ``higher``'s ``metric`` after ``step`` steps is above ``lower``'s (negative when below)."""
    return {image: math.log10(run.value_at(step, metric) / lower[image].value_at(step, metric))
            for image, run in higher.items() if image in lower}
