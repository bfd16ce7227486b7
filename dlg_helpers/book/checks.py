"""Checks a student runs on an exercise's answer: each says whether the answer is right, or
what to look at again, without printing the answer itself."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Check"]


@dataclass(frozen=True)
class Check:
    """The check of one exercise: ``check(answer)`` prints whether ``answer`` is within
    ``tolerance`` (relative, or absolute for an expected 0) of the measured ``expected`` value,
    and returns it.

    Attributes:
        exercise: the exercise's name as the book numbers it, e.g. ``"10.1"``.
        expected: the value measured from the chapter's data (None or NaN: nothing measured,
            as under a chapter's quick parameters).
        tolerance: how far an answer may be and still count as right.
        hint: what to look at again when it is not.
    """

    exercise: str
    expected: float | None
    tolerance: float
    hint: str

    def __call__(self, answer: float) -> bool:
        if self.expected is None or not math.isfinite(self.expected):
            print(f"Exercise {self.exercise}: the chapter's parameters measured nothing to "
                  "check against; run it with its own parameters.")
            return False
        scale = abs(self.expected) if self.expected else 1.0
        right = (isinstance(answer, (int, float)) and math.isfinite(answer)
                 and abs(answer - self.expected) <= self.tolerance * scale)
        print(f"Exercise {self.exercise}: " + ("right." if right else f"not yet. {self.hint}"))
        return right
