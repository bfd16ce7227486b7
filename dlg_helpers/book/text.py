"""Glue for the book: numbers computed in a chapter, referenced from its prose.

Wraps myst-nb's ``glue`` so a chapter also runs where myst-nb is not installed (Colab): there the
value is simply displayed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["glue"]


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`` roles in the chapter's Markdown.

    A NumPy or torch scalar is stored as the Python number it holds: the book formats glued
    numbers from their plain text, which for ``np.float64(0.9)`` is not a number."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # outside the book toolchain (Colab): nothing to glue into
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
