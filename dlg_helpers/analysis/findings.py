"""The numbers each analysis chapter's prose quotes, by the names it glues them under.

A chapter's glue cell is one call: the measurements and verdicts are computed here, from the
stored runs the chapter loaded, and tested like every other piece.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..attack.trace import AttackResult
from . import verdicts
from .comparison import orders_apart, unreconstructed

__all__ = ["lenet_failures", "gap_text"]


def lenet_failures(lenets: Mapping[str, AttackResult], step: int) -> str:
    """The LeNet runs (by image) whose aligned MSE after ``step`` steps does not count as
    reconstructed, each with its MSE, or ``"none"``."""
    failed = unreconstructed(lenets, step)
    return "none" if not failed else ", ".join(
        f"{image} (its MSE {lenets[image].final_mse:.2g})" for image in failed)


def gap_text(orders: float, short: bool = False) -> str:
    """A signed gap in orders of magnitude as a sentence says it: ``"5.1 orders of magnitude
    above"``, ``"1.8 below"`` (``short``), ``"level"`` within 0.05 of none."""
    if abs(orders) < 0.05:
        return "level"
    side = "above" if orders > 0 else "below"
    unit = "" if short else (" order of magnitude" if round(abs(orders), 1) == 1
                             else " orders of magnitude")
    return f"{abs(orders):.1f}{unit} {side}"
