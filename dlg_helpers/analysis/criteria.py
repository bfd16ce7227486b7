"""What counts as what: the one place that decides when a run reconstructed its image, was still
improving, diverged, or leaked it, and how a threshold is written in a table."""

from __future__ import annotations

import math
import re

from ..attack.trace import AttackResult

__all__ = ["RECONSTRUCTED_MSE", "PROTECTED_SSIM", "SSIM_TIE", "STILL_FALLING", "FALLING_WINDOW",
           "reconstructed", "fall", "still_falling", "halving_steps", "diverged", "threshold_text"]

RECONSTRUCTED_MSE = 1e-3
"""An image counts as reconstructed when its MSE to the private image is below this (the
report's measure, pixels in [0, 1]): about 30 dB PSNR, a picture indistinguishable by eye."""

PROTECTED_SSIM = 0.3
"""A reconstruction whose SSIM to the private image is below this no longer shows it: the
defence stopped the attack. (Uniform noise scores about 0; DLG on an undefended LeNet about 1.)"""

SSIM_TIE = 0.05
"""Two runs' SSIMs this close (or closer) are a tie: a few hundredths on one run per model is
not an order."""

STILL_FALLING = 0.01
"""A run was still improving when its measure fell by more than this fraction over the last
:data:`FALLING_WINDOW` steps."""

FALLING_WINDOW = 100
"""The steps over which "still falling" is judged."""


def reconstructed(mse: float, threshold: float = RECONSTRUCTED_MSE) -> bool:
    """Whether an MSE counts as a reconstructed image."""
    return mse < threshold


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
