"""What counts as what: the one place that decides when a run leaked its image, reconstructed it
exactly (the report's measure), was still improving or diverged, and how a threshold is written
in a table."""

from __future__ import annotations

import math
import re

from ..attack.trace import AttackResult

__all__ = ["RECONSTRUCTED_MSE", "RECOGNISED_LIKENESS", "STILL_FALLING", "FALLING_WINDOW",
           "ABOUT", "about_steps", "reconstructed", "leaks", "fall", "still_falling",
           "halving_steps", "diverged", "threshold_text"]

RECONSTRUCTED_MSE = 1e-3
"""An image counts as reconstructed when its MSE to the private image is below this (the
report's measure, pixels in [0, 1]): about 30 dB PSNR, a picture indistinguishable by eye."""

RECOGNISED_LIKENESS = 0.7
"""A reconstruction *leaks* its private image when it identifies it: of the gallery's 680
candidates (:mod:`~dlg_helpers.analysis.gallery`) the private image is the one most like it
(rank 1), and their likeness (the correlation of their colour-standardised 16-pixel thumbnails)
is at least this. Calibrated on the stored runs (chapter 6 shows the ladder): from about 0.75 the
picture is plain to the eye; below about 0.65 it is noise, even where it still ranks first by a
hair's breadth (a faint shared layout, which no person would call a picture)."""

STILL_FALLING = 0.01
"""A run was still improving when its measure fell by more than this fraction over the last
:data:`FALLING_WINDOW` steps."""

FALLING_WINDOW = 100
"""The steps over which "still falling" is judged."""


ABOUT = 0.5
"""The report's "about N steps" is read as N within this fraction either way (50 to 150 for its
"about 100", 25 to 75 for its "about 50"): one window for every such claim."""


def about_steps(stated: int) -> tuple[int, int]:
    """The steps read as "about ``stated``" (:data:`ABOUT`)."""
    return round(stated * (1 - ABOUT)), round(stated * (1 + ABOUT))


def reconstructed(mse: float, threshold: float = RECONSTRUCTED_MSE) -> bool:
    """Whether an MSE counts as a reconstructed image."""
    return mse < threshold


def leaks(likeness: float, rank: int, threshold: float = RECOGNISED_LIKENESS) -> bool:
    """Whether a reconstruction with this ``likeness`` to its private image, which ranks
    ``rank`` in the gallery, leaks it (:data:`RECOGNISED_LIKENESS`)."""
    return rank == 1 and likeness >= threshold


def fall(result: AttackResult, step: int | None = None, window: int = FALLING_WINDOW,
         metric: str = "aligned_mse") -> float:
    """The fraction by which ``metric`` fell over the ``window`` steps before ``step`` (None:
    the run's last step); negative when it rose."""
    step = result.steps if step is None else step
    return 1 - result.value_at(step, metric) / result.value_at(max(0, step - window), metric)


def still_falling(result: AttackResult, step: int | None = None, window: int = FALLING_WINDOW,
                  metric: str = "aligned_mse") -> bool:
    """Whether the run was still improving at ``step``: ``metric`` fell by more than
    :data:`STILL_FALLING` over the ``window`` steps before it."""
    return fall(result, step, window, metric) > STILL_FALLING


def halving_steps(result: AttackResult, step: int | None = None, window: int = FALLING_WINDOW,
                  metric: str = "aligned_mse") -> float | None:
    """How many more steps would halve ``metric`` at the rate it fell over the last ``window``
    (None when it did not fall)."""
    fallen = fall(result, step, window, metric)
    return window * math.log(0.5) / math.log(1 - fallen) if 0 < fallen < 1 else None


def diverged(result: AttackResult) -> bool:
    """Whether every random start of the run diverged (the optimiser, not the gradient, failed)."""
    return all(attempt.status == "diverged" for attempt in result.attempts)


def threshold_text(threshold: float) -> str:
    """A threshold as tables write it: ``1e-3``, ``0.3``."""
    text = f"{threshold:g}"
    if "e" in text or threshold < 1e-2:
        text = re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{threshold:.0e}").replace("e+", "e")
    return text
