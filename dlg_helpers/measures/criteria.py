"""What counts as what: the one place that decides when a run leaked its image, reconstructed it
exactly (the report's measure), was still improving or diverged."""

from __future__ import annotations

import math
from typing import Any

from ..attack.trace import AttackResult

__all__ = ["RECONSTRUCTED_MSE", "LEAK_FLOOR", "LOOKALIKE_MARGIN", "STILL_FALLING",
           "FALLING_WINDOW", "ABOUT", "about_steps", "reconstructed", "leak_threshold", "leaks",
           "judge_table", "fall", "still_falling", "halving_steps", "diverged"]

RECONSTRUCTED_MSE = 1e-3
"""An image counts as reconstructed when its MSE to the private image is below this (the
report's measure, pixels in [0, 1]): about 30 dB PSNR, a picture indistinguishable by eye."""

LEAK_FLOOR = 0.62
"""The least likeness that ever counts as a leak (see :func:`leaks`): chosen, with
:data:`LOOKALIKE_MARGIN`, by :func:`~dlg_helpers.measures.judgements.choose_decision` on the
labelled set's ``choose`` half."""

LOOKALIKE_MARGIN = -0.10
"""How much more like its private image a reconstruction must be than the private image's own
look-alike is (see :func:`leaks`). Negative: a reconstruction may fall a little short of the
look-alike's likeness, because a person also uses what the 16-pixel likeness does not see
(position, outline, colour), but not far."""


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


def leak_threshold(lookalike: float) -> float:
    """The likeness a reconstruction must reach to leak a private image whose nearest other
    picture in the gallery has correlation ``lookalike`` with it (:func:`leaks`)."""
    return max(LEAK_FLOOR, lookalike + LOOKALIKE_MARGIN)


def leaks(likeness: float, rank: int, lookalike: float) -> bool:
    """Whether a reconstruction leaks its private image: the course's one definition.

    Its private image must be the gallery's candidate most like it (``rank`` 1, of 680
    offline pictures, :mod:`~dlg_helpers.measures.gallery`), and its ``likeness`` to it must
    reach :func:`leak_threshold`: at least :data:`LEAK_FLOOR`, and at least the ``lookalike``
    (the private image's correlation with its own most similar other picture) plus
    :data:`LOOKALIKE_MARGIN`. A reconstruction no closer to a digit than another digit of the
    same shape is would not tell a person which digit it was; a photograph, unlike its
    neighbours, is told apart at a lower likeness. Both numbers were chosen on half of the
    labelled set of blind judgements by eye and checked on the other half
    (:mod:`~dlg_helpers.measures.judgements`; chapter 6).
    """
    return rank == 1 and likeness >= leak_threshold(lookalike)


def judge_table(frame: Any) -> Any:
    """A stored table with its verdicts derived from its scores, by :func:`leaks`: a table keeps
    scores, never verdicts, so a new criterion judges every stored table anew.

    A table of attacks (its ``image_likeness``, ``image_rank`` and ``image_lookalike`` lists
    one entry per private image) gains ``identified`` (images that leak) and ``leaks`` (any
    does); a table of images (``likeness``, ``rank``, ``lookalike`` per row) gains ``leaks``.

    Raises:
        KeyError: for a table without those scores, naming what it lacks.
    """
    if "image_likeness" in frame:
        identified = [sum(leaks(float(x), int(r), float(b)) for x, r, b in zip(*scores))
                      for scores in zip(frame["image_likeness"], frame["image_rank"],
                                        frame["image_lookalike"])]
        return frame.assign(identified=identified, leaks=[n > 0 for n in identified])
    missing = [c for c in ("likeness", "rank", "lookalike") if c not in frame]
    if missing:
        raise KeyError(f"the table has no {', '.join(missing)} column: it was stored before the "
                       "course kept scores instead of verdicts; make it again with the command "
                       "that made it")
    return frame.assign(leaks=[leaks(float(x), int(r), float(b)) for x, r, b in
                               zip(frame["likeness"], frame["rank"], frame["lookalike"])])


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
