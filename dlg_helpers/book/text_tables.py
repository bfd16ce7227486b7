"""The text chapter's tables, from the stored measurements (:mod:`~dlg_helpers.runs.text_plan`):
for each setting, the sentences recovered exactly and the tokens in place, each a share with its
count and 95 % Wilson interval, and the median seconds of an attack with its order-statistic
interval (over five attacks, the whole range: 94 % coverage)."""

from __future__ import annotations

from typing import Any

from IPython.display import Markdown

from ..measures.intervals import median_interval
from .tables import markdown_table, share_cell

__all__ = ["recovery_rows", "recovery_table"]


def recovery_rows(frame: Any, by: str) -> list[dict[str, Any]]:
    """One row per value of ``by`` (in the table's order): the setting, the sentences recovered
    exactly and in all, the tokens in place and in all, and the median seconds of an attack
    with the ends of its interval (``seconds_low``, ``seconds_high``; None for one attack)."""
    rows = []
    for value, group in frame.groupby(by, sort=False):
        seconds = median_interval(list(group["seconds"]))
        rows.append({by: value, "exact": int(group["exact"].sum()),
                     "sentences": int(group["sentences"].sum()),
                     "tokens": int(group["tokens"].sum()),
                     "total_tokens": int(group["total_tokens"].sum()),
                     "seconds": seconds.median, "seconds_low": seconds.low,
                     "seconds_high": seconds.high, "attacks": len(group)})
    return rows


def recovery_table(frame: Any, by: str, header: str, fmt: Any = str) -> Markdown:
    """:func:`recovery_rows` as the chapter shows them: ``header`` names the setting's column
    (its values through ``fmt``)."""
    def seconds(row: dict[str, Any]) -> str:
        if row["seconds_low"] is None:
            return f"{row['seconds']:.1f}"
        return f"{row['seconds']:.1f} ({row['seconds_low']:.1f}–{row['seconds_high']:.1f})"

    shown = [{**row, "exact_cell": share_cell(row["exact"], row["sentences"]),
              "token_cell": share_cell(row["tokens"], row["total_tokens"]),
              "seconds_cell": seconds(row)} for row in recovery_rows(frame, by)]
    return markdown_table(shown, {
        by: (header, fmt), "exact_cell": ("sentences exact (95 % CI)", str),
        "token_cell": ("tokens in place (95 % CI)", str),
        "seconds_cell": ("seconds an attack (median, range)", str)})
