"""Results tables as Markdown, which the book renders and nbval compares as text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from IPython.display import Markdown

__all__ = ["fmt_spec", "fmt_sci", "fmt_int", "fmt_seconds", "markdown_table"]


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


def markdown_table(rows: Sequence[Mapping[str, Any]],
                   columns: Mapping[str, tuple[str, Callable[[Any], str]]]) -> Markdown:
    """A Markdown table: ``columns`` maps a row key to (header, formatter)."""
    lines = ["| " + " | ".join(header for header, _ in columns.values()) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row[key]) for key, (_, fmt) in columns.items()) + " |")
    return Markdown("\n".join(lines))
