"""Stored runs side by side: collect them by group, summarise each group with medians and spread,
for the analysis chapters to read and glue into their prose.

The analysis chapters only read runs: a group lists the :class:`~dlg_helpers.runs.spec.RunSpec` s it
wants, :func:`collect` loads those that are stored and returns the commands that would make the
others (hours on a CPU, so they run in the background, not inside a chapter).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.display import Markdown

from ..attack.trace import AttackResult
from ..book.tables import fmt_int, fmt_sci, markdown_table
from ..runs.spec import RunSpec
from ..runs.store import stored_result
from .criteria import RECONSTRUCTED_MSE, reconstructed, threshold_text
from .rows import result_row

__all__ = ["unreconstructed", "reached_of", "values_text", "orders_apart", "Collected", "collect",
           "group_summary", "summaries", "value", "measured", "summary_table", "paired_orders",
           "attempt_counts"]


@dataclass
class Collected:
    """The stored runs of each group, their table rows, and the commands for those missing."""

    results: dict[str, list[AttackResult]]
    rows: list[dict[str, Any]]
    missing: list[str]

    def note(self) -> str:
        """What is missing and the commands that make it (:func:`missing_note`)."""
        return missing_note(self.missing)

    def coverage(self) -> str:
        """A sentence for the prose: how many of the wanted runs are stored."""
        wanted = len(self.missing) + sum(len(runs) for runs in self.results.values())
        if not self.missing:
            return f"Every run this section wants ({wanted}) is stored."
        verb = "is" if len(self.missing) == 1 else "are"
        return f"{len(self.missing)} of the {wanted} runs this section wants {verb} not stored yet."


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

    Each row is :func:`~dlg_helpers.analysis.rows.result_row` (judged against ``threshold``)
    plus ``group``, ``model``, ``images``, ``size`` and ``seed``; ``missing`` holds the
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
                         **result_row(result, threshold)})
    return Collected(results, rows, missing)


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "low": min(values), "high": max(values)}


def group_summary(rows: Sequence[Mapping[str, Any]], by: str | tuple[str, ...] = "group"
                  ) -> list[dict[str, Any]]:
    """The one summariser: one row per group of :func:`~dlg_helpers.analysis.rows.result_row`
    rows, in first-seen order.

    A group is the rows with the same ``by`` key (or tuple of keys; ``group`` holds its value).
    Each summary gives how many runs; the median, lowest and highest MSE, aligned MSE, SSIM
    and the best-recovered image's MSE, PSNR and SSIM (``best_*``, for batches); the median
    PSNR and steps; runs with every label right, and labels recovered out of all private
    labels; how many runs reconstructed the image with the right label (``successes``); how
    many reached an MSE below the rows' threshold and the median first step they did; median
    evaluations and wall time, seconds per evaluation over all runs, and how many runs diverged from
    every random start.

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
        entry: dict[str, Any] = {"group": group, "runs": len(members),
                                 "threshold": thresholds.pop()}
        for key in ("mse", "aligned_mse", "ssim", "best_mse", "best_psnr", "best_ssim"):
            entry.update({f"{key}_{k}": v for k, v in _spread([r[key] for r in members]).items()})
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
    """:func:`collect` and :func:`group_summary` by group name; prints what is missing."""
    found = collect(groups, results_dir, threshold)
    print(found.note() or "every wanted run is stored")
    return found, {row["group"]: row for row in group_summary(found.rows)}


def value(summary: Mapping[str, Mapping[str, Any]], group: str, key: str) -> Any:
    """``summary[group][key]``, or NaN for a group none of whose runs is stored yet."""
    return summary[group][key] if group in summary else math.nan


def reached_of(summary: Mapping[str, Mapping[str, Any]], group: str) -> str:
    """How many of a group's runs reached the threshold, as ``"k of n"`` (``"nan of nan"`` for
    a group none of whose runs is stored, as :func:`value` reads it)."""
    return f"{value(summary, group, 'reached')} of {value(summary, group, 'runs')}"


def values_text(summary: Mapping[str, Mapping[str, Any]], groups: Mapping[Any, str], key: str,
                spec: str = ".2f") -> str:
    """``key`` of each group as ``"label: value"``, joined by commas; ``groups`` maps a label
    to its group's name (e.g. a batch size to ``"LeNet, batch of 4"``)."""
    return ", ".join(f"{label}: {measured(value(summary, group, key), spec)}"
                     for label, group in groups.items())


def measured(number: float, spec: str = ".2g") -> str:
    """``number`` formatted with ``spec``, or "not measured yet" for NaN (a missing run)."""
    return "not measured yet" if math.isnan(number) else format(number, spec)


def _range_text(row: Mapping[str, Any], prefix: str,
                fmt: Callable[[float], str] = fmt_sci) -> str:
    """``prefix``'s median with [lowest, highest], e.g. "1.2e-03 [4.0e-04, 2.0e-02]"."""
    median, low, high = (fmt(row[f"{prefix}_{end}"]) for end in ("median", "low", "high"))
    return f"{median} [{low}, {high}]"


def _fmt_ssim(value: float) -> str:
    return f"{value:.2f}"


def summary_table(summary: Sequence[Mapping[str, Any]], group_header: str = "runs of",
                  extra: Mapping[str, tuple[str, Callable[[Any], str]]] | None = None) -> Markdown:
    """:func:`group_summary` as a Markdown table (medians with [lowest, highest]); ``extra``
    adds columns after the group's name (row key -> header, formatter), for keys the caller
    put in the rows. When a run holds a batch, a column gives the best-recovered image's SSIM
    beside the batch's mean, since that image is what the verdicts judge a batch by. The
    "reached" column names the threshold the rows were judged against."""
    if not summary:
        return Markdown("*No run of these groups is stored yet.*")
    thresholds = {row["threshold"] for row in summary}
    reached = ("reached MSE < " + threshold_text(thresholds.pop()) if len(thresholds) == 1
               else "reached its threshold")
    holds_batch = any(row["labels"] > row["runs"] for row in summary)
    rows = [{**row, "mse_text": _range_text(row, "mse"),
             "aligned_text": _range_text(row, "aligned_mse"),
             "ssim_text": _range_text(row, "ssim", _fmt_ssim),
             **({"best_ssim_text": _range_text(row, "best_ssim", _fmt_ssim)}
                if holds_batch else {}),
             "labels_text": f"{row['labels_recovered']}/{row['labels']}",
             "below": (f"{row['reached']}/{row['runs']}, median step {row['first_below']:.0f}"
                       if row["reached"] else f"0/{row['runs']}")}
            for row in summary]
    return markdown_table(rows, {
        "group": (group_header, str), **(extra or {}), "runs": ("runs", fmt_int),
        "mse_text": ("MSE median [min, max]", str),
        "aligned_text": ("aligned MSE median [min, max]", str),
        "psnr": ("PSNR (dB)", lambda v: f"{v:.1f}"), "ssim_text": ("SSIM median [min, max]", str),
        **({"best_ssim_text": ("best image's SSIM median [min, max]", str)}
           if holds_batch else {}),
        "labels_text": ("labels recovered", str), "below": (reached, str),
        "evaluations": ("evaluations", fmt_int),
        "minutes": ("minutes", lambda v: f"{v:.1f}"),
    })


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


def distance_fall(results: Mapping[str, AttackResult]) -> str:
    """How far each named run's gradient distance fell, from its first step to the closest match
    it kept, e.g. "LeNet 1.2e-01 → 2.0e-04 (600×)". This is the attacker's own view of success: a
    distance that barely fell means the attack never matched the gradient, whatever the image."""
    if not results:
        return "no run stored"
    parts = []
    for name, result in results.items():
        first, best = result.history[0].grad_distance, result.best_distance
        ratio = first / best if best else None
        fall = ("matched exactly" if ratio is None
                else f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×")
        parts.append(f"{name} {fmt_sci(first)} → {fmt_sci(best)} ({fall})")
    return "; ".join(parts)


def unreconstructed(runs: Mapping[str, AttackResult], step: int, metric: str = "aligned_mse",
                    threshold: float = RECONSTRUCTED_MSE) -> list[str]:
    """The images (runs by image name) whose ``metric`` after ``step`` steps does not count as
    reconstructed (:func:`~dlg_helpers.analysis.criteria.reconstructed`)."""
    return [image for image, run in runs.items()
            if not reconstructed(run.value_at(step, metric), threshold)]


def orders_apart(higher: Mapping[str, AttackResult], lower: Mapping[str, AttackResult],
                 step: int, metric: str = "mse") -> dict[str, float]:
    """For each image both sets of runs hold (runs by image name), how many orders of magnitude
    ``higher``'s ``metric`` after ``step`` steps is above ``lower``'s (negative when below)."""
    return {image: math.log10(run.value_at(step, metric) / lower[image].value_at(step, metric))
            for image, run in higher.items() if image in lower}
