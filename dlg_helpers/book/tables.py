"""Results tables as Markdown, which the book renders and nbval compares as text."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from IPython.display import Markdown

from ..measures.intervals import wilson

if TYPE_CHECKING:
    from ..attack.config import AttackConfig

__all__ = ["fmt_spec", "fmt_sci", "fmt_int", "fmt_seconds", "share_cell", "fmt_percent_interval",
           "markdown_table", "settings_table", "threshold_text", "measured", "interval_text",
           "leaked_text", "summary_table", "MEASURES", "MAX_COLUMNS"]


def fmt_sci(value: float | None, digits: int = 1) -> str:
    """``3.4e-04`` style, or an em dash for a missing value."""
    return "—" if value is None else f"{value:.{digits}e}"


def fmt_int(value: float | None) -> str:
    """A whole number with thousands separators, or ``never`` for a missing value."""
    return "never" if value is None else f"{round(value):,}"


def fmt_spec(spec: str) -> Callable[[Any], str]:
    """A column formatter for Python's format ``spec`` (``fmt_spec(".2f")``, ``fmt_spec(",")``),
    with an em dash for a missing value."""
    return lambda value: "—" if value is None else format(value, spec)


def fmt_seconds(value: float | None) -> str:
    """Seconds with one decimal."""
    return "—" if value is None else f"{value:.1f} s"


def share_cell(successes: int, trials: int) -> str:
    """``"7/12 (32–81 %)"``: a count, its total and the 95 % Wilson interval of the share."""
    low, high = wilson(successes, trials)
    return f"{successes}/{trials} ({100 * low:.0f}–{100 * high:.0f} %)"


def fmt_percent_interval(rate: float, low: float, high: float, digits: int = 0) -> str:
    """A share and its interval as a table cell, in per cent: ``"88 % (83–92 %)"``
    (``digits`` decimals)."""
    return f"{100 * rate:.{digits}f} % ({100 * low:.{digits}f}–{100 * high:.{digits}f} %)"


_NUMBER = re.compile(r"^[-+−]?[\d—∞]")
_SHORT = 12  # a number cell ("3.4e-04", "0.82 ± 0.05"); longer ones (intervals) may wrap at spaces


def _numeric(cells: Sequence[str]) -> bool:
    return bool(cells) and all(len(c) <= _SHORT and _NUMBER.match(c) for c in cells)


def markdown_table(rows: Sequence[Mapping[str, Any]],
                   columns: Mapping[str, tuple[str, Callable[[Any], str]]]) -> Markdown:
    """A Markdown table: ``columns`` maps a row key to (header, formatter).

    A column whose every cell is a short number (``0.83``, ``3.4e-04``, ``0.82 ± 0.05``) is
    aligned right, which the book's style sheet keeps on one line: numbers never wrap.
    """
    cells = [[fmt(row[key]) for key, (_, fmt) in columns.items()] for row in rows]
    aligned = ["---:" if _numeric([line[i] for line in cells]) else "---"
               for i in range(len(columns))]
    lines = ["| " + " | ".join(header for header, _ in columns.values()) + " |",
             "|" + "|".join(aligned) + "|"]
    lines += ["| " + " | ".join(line) + " |" for line in cells]
    return Markdown("\n".join(lines))


def settings_table(configs: Mapping[str, AttackConfig]) -> Markdown:
    """The settings in which attack configurations (by the name a reader knows them by) differ
    from the first, one row a setting, one column an attack: what changes between them, and
    nothing else."""
    first, *others = configs.values()
    changed = dict.fromkeys(name for other in others for name in other.changes_from(first))
    rows = [{"setting": name.replace("_", " "),
             **{attack: getattr(config, name) for attack, config in configs.items()}}
            for name in changed]
    return markdown_table(rows, {"setting": ("setting", str),
                                 **{attack: (attack, _setting_text) for attack in configs}})


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)


def threshold_text(threshold: float) -> str:
    """A threshold as tables write it: ``1e-3``, ``0.3``."""
    text = f"{threshold:g}"
    if "e" in text or threshold < 1e-2:
        text = re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{threshold:.0e}").replace("e+", "e")
    return text


def measured(number: float, spec: str = ".2g") -> str:
    """``number`` formatted with ``spec``, or "not measured yet" for NaN (a missing run)."""
    return "not measured yet" if math.isnan(number) else format(number, spec)


def interval_text(row: Mapping[str, Any], prefix: str,
                  fmt: Callable[[float], str] = fmt_sci) -> str:
    """``prefix``'s median with its interval, e.g. ``"0.83 [0.71, 0.95]"``; one run shows one
    number. (The interval's coverage is in the row as ``<prefix>_coverage``.)"""
    median, low, high = (row[f"{prefix}_{end}"] for end in ("median", "low", "high"))
    return fmt(median) if low is None else f"{fmt(median)} [{fmt(low)}, {fmt(high)}]"


def leaked_text(row: Mapping[str, Any]) -> str:
    """A group's leak rate as a table writes it: ``"4/5 (38–96 %)"``, the 95 % Wilson interval
    in brackets."""
    return (f"{row['leaked']}/{row['runs']} "
            f"({100 * row['leaked_low']:.0f}–{100 * row['leaked_high']:.0f} %)")


def _two(value: float) -> str:
    return f"{value:.2f}"


MEASURES: tuple[str, ...] = ("leaked", "likeness", "r2", "labels", "mse", "below")
"""The columns :func:`summary_table` can show, in their order: runs leaked (with the 95 %
interval), the best image's likeness and R² (medians with their intervals), labels recovered,
the report's MSE and how many runs reached its threshold."""

MAX_COLUMNS = 7  # what fits the book's text column at 1280 px


def summary_table(summary: Sequence[Mapping[str, Any]], group_header: str = "runs of",
                  extra: Mapping[str, tuple[str, Callable[[Any], str]]] | None = None,
                  measures: Sequence[str] = MEASURES) -> Markdown:
    """:func:`~dlg_helpers.analysis.comparison.group_summary` as a Markdown table: the group's name, the ``extra`` columns (row
    key -> header, formatter, for keys the caller put in the rows), then the ``measures``
    (:data:`MEASURES`, in that order).

    Raises:
        ValueError: for an unknown measure, or more than :data:`MAX_COLUMNS` columns in all
            (name fewer measures, or put the extra columns in a table of their own).
    """
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ValueError(f"unknown measures {unknown}; choose from {list(MEASURES)}")
    width = 1 + len(extra or {}) + len(measures)
    if width > MAX_COLUMNS:
        raise ValueError(f"{width} columns do not fit the page ({MAX_COLUMNS} at most): name "
                         "fewer measures, or put the extra columns in a table of their own")
    if not summary:
        return Markdown("*No run of these groups is stored.*")
    thresholds = {row["threshold"] for row in summary}
    reached = ("MSE < " + threshold_text(thresholds.pop()) if len(thresholds) == 1
               else "reached its threshold")
    rows = [{**row, "leaked": leaked_text(row),
             "likeness": interval_text(row, "likeness", _two),
             "r2": interval_text(row, "best_r2", _two),
             "mse": interval_text(row, "mse"),
             "labels": f"{row['labels_recovered']}/{row['labels']}",
             "below": (f"{row['reached']}/{row['runs']}, step {row['first_below']:.0f}"
                       if row["reached"] else f"0/{row['runs']}")}
            for row in summary]
    headers = {"leaked": "leaked (95 % CI)", "likeness": "likeness", "r2": "R²",
               "labels": "labels", "mse": "report's MSE", "below": reached}
    return markdown_table(rows, {
        "group": (group_header, str), **(extra or {}),
        **{m: (headers[m], str) for m in MEASURES if m in measures}})
