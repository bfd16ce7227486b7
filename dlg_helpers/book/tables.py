"""Results tables as Markdown, which the book renders and nbval compares as text."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from IPython.display import Markdown

if TYPE_CHECKING:
    from ..attack.config import AttackConfig

__all__ = ["fmt_spec", "fmt_sci", "fmt_int", "fmt_seconds", "fmt_percent_interval",
           "markdown_table", "settings_table"]


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
