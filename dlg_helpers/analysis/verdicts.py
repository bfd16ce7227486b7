"""The report's claims tested against the stored runs: numbers and a typed verdict, never words.

Each function takes stored runs (or numbers measured from them) and returns a small frozen
dataclass: the counts and medians that test one claim of the report, and a :class:`Verdict`. A
chapter writes its own sentences around those numbers and asserts, in a hidden cell, the verdict
its words rely on, so a changed measurement fails the chapter's test until the prose is rewritten.
Whether a run shows its image is the course's one definition of leakage
(:func:`~dlg_helpers.measures.criteria.leaks`).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..attack.trace import AttackResult
from ..measures.criteria import FALLING_WINDOW, diverged, fall, still_falling
from ..measures.intervals import INDICATIVE_BELOW, wilson
from ..measures.rows import result_row
from .comparison import attempt_counts, leak_counts, paired_orders

__all__ = ["Verdict", "is_indicative", "share_outcome", "within_an_order", "converges_by",
           "Effect", "effect_on_attack", "BatchOutcome", "batch_makes_worse", "OrderGap",
           "an_order_lower", "StepsOutcome", "converges_in_about", "StillFalling",
           "needs_more_steps", "Resting", "optimiser_rests_by", "Hidden", "shows_nothing",
           "SizeOutcome", "larger_models_leak_less", "Architecture", "architecture_as_defence",
           "ParameterCount", "parameter_count", "ActivationOutcome", "activation_needed",
           "activation_in", "LabelsOutcome", "labels_inefficient", "Ending", "RunEnding",
           "how_it_ended", "PREVENTED_SHARE", "Prevention", "factor_prevents"]


class Verdict(Enum):
    """What the measurements say of one of the report's claims."""

    HOLDS = "holds"
    PARTLY = "holds in part"
    DOES_NOT_HOLD = "does not hold"
    NOT_MEASURED = "not measured"
    NOT_SHOWN = "not shown"
    """The runs that should test the claim could not: the optimiser diverged from every start,
    so the picture never moved and nothing was learnt about the gradient."""


def is_indicative(runs: int) -> bool:
    """A verdict on fewer than :data:`~dlg_helpers.measures.intervals.INDICATIVE_BELOW` runs is
    indicative: too few to tell the model from the luck of one random start."""
    return runs < INDICATIVE_BELOW


def share_outcome(count: int, total: int) -> Verdict:
    """HOLDS when all ``total`` cases agree, DOES_NOT_HOLD when none does, PARTLY in between,
    NOT_MEASURED with no cases."""
    if total == 0:
        return Verdict.NOT_MEASURED
    return (Verdict.HOLDS if count == total else
            Verdict.DOES_NOT_HOLD if count == 0 else Verdict.PARTLY)


def within_an_order(*gaps: float) -> Verdict:
    """Two measures are of the same order when every gap between them (in orders of magnitude)
    is below one."""
    return Verdict.HOLDS if all(abs(gap) < 1 for gap in gaps) else Verdict.DOES_NOT_HOLD


def converges_by(median_step: float | None, about: tuple[int, int]) -> Verdict:
    """The report's "converges in about N steps", read as a median first step below the
    threshold within ``about`` (:func:`~dlg_helpers.measures.criteria.about_steps`)."""
    if median_step is None:
        return Verdict.NOT_MEASURED
    return Verdict.HOLDS if about[0] <= median_step <= about[1] else Verdict.DOES_NOT_HOLD


class Effect(Enum):
    """What a change did to the share of runs that leak."""

    HARDER = "harder"
    EASIER = "easier"
    NO_CHANGE = "no change"
    NOT_MEASURED = "not measured"


def effect_on_attack(before: tuple[int, int], after: tuple[int, int]) -> Effect:
    """What a change did to the attack, from how many runs leaked without it (``before``,
    ``(leaked, runs)``) and with it (``after``)."""
    if not before[1] or not after[1]:
        return Effect.NOT_MEASURED
    was, now = before[0] / before[1], after[0] / after[1]
    return Effect.HARDER if now < was else Effect.EASIER if now > was else Effect.NO_CHANGE


@dataclass(frozen=True)
class BatchOutcome:
    """Per model, whether the share of private images identified fell from the smallest batch
    measured to the largest, to less than half (``fell``), with the verdict over all models."""

    fell: Mapping[str, bool]
    verdict: Verdict


def batch_makes_worse(by_model: Mapping[str, Mapping[int, tuple[int, int]]]) -> BatchOutcome:
    """The verdict on "a larger batch prevents leakage", from ``(identified, images)`` by batch
    size for each model (7 of 8 against 1 of 1 is a batch that still leaks). Models with fewer
    than two batch sizes measured are left out."""
    fell = {}
    for model, counts in by_model.items():
        measured = {size: c for size, c in counts.items() if c[1]}
        if len(measured) < 2:
            continue
        (a, n), (b, m) = measured[min(measured)], measured[max(measured)]
        fell[model] = b / m < a / n / 2
    return BatchOutcome(fell, share_outcome(sum(fell.values()), len(fell)))


@dataclass(frozen=True)
class OrderGap:
    """How many orders of magnitude one group's final MSE lies above another's, image by image:
    the median gap, its range, and on how many images it is at least one order."""

    images: int
    median: float
    smallest: float
    largest: float
    at_least_one: int
    verdict: Verdict


def an_order_lower(rows: Sequence[Mapping[str, Any]], higher: str, lower: str,
                   key: str = "mse") -> OrderGap:
    """Group ``lower``'s final MSE (row ``key``: ``"mse"`` on [0, 1] pixels, ``"input_mse"`` in
    the model's input units) at least one order of magnitude below ``higher``'s, image by image
    (rows of :func:`~dlg_helpers.analysis.comparison.collect`)."""
    gaps = list(paired_orders(rows, higher, lower, key).values())
    if not gaps:
        nan = float("nan")
        return OrderGap(0, nan, nan, nan, 0, Verdict.NOT_MEASURED)
    at_least_one = sum(gap >= 1 for gap in gaps)
    return OrderGap(len(gaps), statistics.median(gaps), min(gaps), max(gaps), at_least_one,
                    share_outcome(at_least_one, len(gaps)))


@dataclass(frozen=True)
class StepsOutcome:
    """When runs first reached an MSE below a threshold: how many did, the median step and its
    range, and how many within the steps read as "about" the report's number."""

    runs: int
    reached: int
    median: float | None
    first: int | None
    last: int | None
    within: int
    verdict: Verdict


def converges_in_about(results: Sequence[AttackResult], about: tuple[int, int],
                       threshold: float) -> StepsOutcome:
    """The runs first reach an MSE below ``threshold`` at a step within ``about``."""
    reached = [s for s in (r.first_step_below(threshold) for r in results) if s is not None]
    if not reached:
        verdict = Verdict.NOT_MEASURED if not results else Verdict.DOES_NOT_HOLD
        return StepsOutcome(len(results), 0, None, None, None, 0, verdict)
    within = sum(about[0] <= step <= about[1] for step in reached)
    return StepsOutcome(len(results), len(reached), statistics.median(reached), min(reached),
                        max(reached), within, share_outcome(within, len(results)))


@dataclass(frozen=True)
class StillFalling:
    """Whether runs that never reached the threshold were still improving at the end: how many
    reached it, the median fraction by which the aligned MSE fell over the last ``window``
    steps, and how many were still falling."""

    runs: int
    reached: int
    median_fall: float
    falling: int
    window: int
    verdict: Verdict


def needs_more_steps(results: Sequence[AttackResult], threshold: float,
                     window: int = FALLING_WINDOW) -> StillFalling:
    """"Needs more steps": no run reached an MSE below ``threshold`` in its budget (else the
    claim does not hold), and the aligned MSE was still falling over the last ``window`` steps
    of every run (HOLDS) or of some (PARTLY)."""
    if not results:
        return StillFalling(0, 0, float("nan"), 0, window, Verdict.NOT_MEASURED)
    reached = sum(r.first_step_below(threshold) is not None for r in results)
    falling = sum(still_falling(r, window=window) for r in results)
    verdict = (Verdict.DOES_NOT_HOLD if reached else
               Verdict.HOLDS if falling == len(results) else Verdict.PARTLY)
    return StillFalling(len(results), reached,
                        statistics.median(fall(r, window=window) for r in results), falling,
                        window, verdict)


def _leaked(results: Sequence[AttackResult]) -> int:
    return sum(bool(result_row(r)["leaks"]) for r in results)


@dataclass(frozen=True)
class Resting:
    """The step at which L-BFGS came to rest in each run (None: never), how many rested by the
    limit, and how many runs leaked their image."""

    resting: tuple[int | None, ...]
    rested: int
    leaked: int
    verdict: Verdict

    @property
    def runs(self) -> int:
        return len(self.resting)


def optimiser_rests_by(results: Sequence[AttackResult], limit: int) -> Resting:
    """L-BFGS came to rest (:meth:`~dlg_helpers.attack.trace.AttackResult.resting_step`) by step
    ``limit``. The verdict is on the optimiser; ``leaked`` says whether the image came with it."""
    resting = tuple(r.resting_step() for r in results)
    rested = sum(step is not None and step <= limit for step in resting)
    return Resting(resting, rested, _leaked(results), share_outcome(rested, len(results)))


@dataclass(frozen=True)
class Hidden:
    """Whether the runs leak their image: random starts that diverged, runs that leaked, and,
    when every run diverged, what an attack that did not diverge (``working``) showed."""

    diverged: int
    attempts: int
    leaked: int
    runs: int
    working_leaked: int
    working_runs: int
    verdict: Verdict


def shows_nothing(results: Sequence[AttackResult],
                  working: Sequence[AttackResult] = ()) -> Hidden:
    """"The reconstruction shows nothing": no run leaks its image (a batch leaks when any of its
    images does).

    A run whose optimiser diverged from every random start never moved the picture: it shows
    nothing about the gradient. So when every run of ``results`` diverged the verdict is
    NOT_SHOWN, unless the runs of an attack that did not diverge (``working``) also leak
    nothing (HOLDS, on their evidence) or leak (DOES_NOT_HOLD).
    """
    if not results:
        return Hidden(0, 0, 0, 0, 0, 0, Verdict.NOT_MEASURED)
    counts = attempt_counts(results)
    leaked = _leaked(results)
    tested = [r for r in working if not diverged(r)]
    other = _leaked(tested)
    if leaked:
        verdict = Verdict.DOES_NOT_HOLD
    elif not all(diverged(r) for r in results):
        verdict = Verdict.HOLDS
    elif not tested:
        verdict = Verdict.NOT_SHOWN
    else:
        verdict = Verdict.DOES_NOT_HOLD if other else Verdict.HOLDS
    return Hidden(counts["diverged"], counts["attempts"], leaked, len(results), other,
                  len(tested), verdict)


@dataclass(frozen=True)
class SizeOutcome:
    """Models ordered by size, and the pairs (smaller, larger) whose leak rates' 95 % Wilson
    intervals do not overlap: the larger one leaking more (``rises``) or less (``falls``)."""

    order: tuple[str, ...]
    rises: tuple[tuple[str, str], ...]
    falls: tuple[tuple[str, str], ...]
    every_run_leaks: bool
    verdict: Verdict


def larger_models_leak_less(sizes: Mapping[str, tuple[int, int, int]]) -> SizeOutcome:
    """Ordered by parameter count, a larger model leaks measurably less often than a smaller one,
    and never measurably more. ``sizes`` maps a model's name to (parameters, runs that leaked,
    runs); pass only models whose attack was tested (models whose optimiser diverged everywhere
    say nothing of their size).

    "Measurably" means the rates' 95 % Wilson intervals do not overlap: a difference of one run
    in two or five is chance.
    """
    order = tuple(sorted(sizes, key=lambda name: sizes[name][0]))
    if len(order) < 2:
        return SizeOutcome(order, (), (), False, Verdict.NOT_MEASURED)
    interval = {name: wilson(sizes[name][1], sizes[name][2]) for name in order}
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
    rises = tuple((a, b) for a, b in pairs if interval[b][0] > interval[a][1])
    falls = tuple((a, b) for a, b in pairs if interval[b][1] < interval[a][0])
    every = all(sizes[name][1] == sizes[name][2] for name in order)
    verdict = Verdict.HOLDS if falls and not rises else Verdict.DOES_NOT_HOLD
    return SizeOutcome(order, rises, falls, every, verdict)


@dataclass(frozen=True)
class Architecture:
    """Which large models leaked under one attack and which did not; choosing a large model
    defends (HOLDS) only while none of them leaks."""

    leaking: tuple[str, ...]
    hidden: tuple[str, ...]
    verdict: Verdict


def architecture_as_defence(leaks: Mapping[str, tuple[int, int]]) -> Architecture:
    """Whether choosing a large model still defends, from each large model's ``(leaked, runs)``
    under one attack (only the models tested)."""
    leaking = tuple(name for name, (leaked, _) in leaks.items() if leaked)
    hidden = tuple(name for name, (leaked, _) in leaks.items() if not leaked)
    verdict = (Verdict.NOT_MEASURED if not leaks else
               Verdict.DOES_NOT_HOLD if leaking else Verdict.HOLDS)
    return Architecture(leaking, hidden, verdict)


@dataclass(frozen=True)
class ParameterCount:
    """A model's measured parameter count against the report's, as a ratio."""

    measured: int
    reported: int
    ratio: float
    verdict: Verdict


def parameter_count(measured: int, reported: int, tolerance: float = 0.1) -> ParameterCount:
    """The report's parameter count within ``tolerance`` (relative) of the measured one."""
    ratio = measured / reported
    return ParameterCount(measured, reported, ratio, Verdict.HOLDS if abs(ratio - 1) <= tolerance
                          else Verdict.DOES_NOT_HOLD)


@dataclass(frozen=True)
class ActivationOutcome:
    """The same images' runs with Sigmoid and with ReLU, each ``(leaked, runs)``."""

    sigmoid: tuple[int, int]
    relu: tuple[int, int]
    verdict: Verdict


def activation_needed(sigmoid: tuple[int, int], relu: tuple[int, int]) -> ActivationOutcome:
    """"Sigmoid is needed": the same images leak with Sigmoid and not with ReLU. PARTLY when the
    ReLU network leaks less often but still leaks; NOT_SHOWN when nothing leaks even with
    Sigmoid (the attack cannot judge the activation)."""
    verdict = (Verdict.NOT_MEASURED if not relu[1] or not sigmoid[1] else
               Verdict.NOT_SHOWN if sigmoid[0] == 0 else
               Verdict.HOLDS if relu[0] == 0 else
               Verdict.PARTLY if relu[0] / relu[1] < sigmoid[0] / sigmoid[1] else
               Verdict.DOES_NOT_HOLD)
    return ActivationOutcome(sigmoid, relu, verdict)


def activation_in(summary: Mapping[str, Mapping[str, Any]], network: str) -> ActivationOutcome:
    """:func:`activation_needed` for ``network`` from a summary whose groups
    ``"<network>, Sigmoid"`` and ``"<network>, ReLU"`` hold the same images' runs."""
    return activation_needed(leak_counts(summary, f"{network}, Sigmoid"),
                             leak_counts(summary, f"{network}, ReLU"))


@dataclass(frozen=True)
class LabelsOutcome:
    """Labels recovered by DLG's joint optimisation and read off the gradient (iDLG), each
    ``(recovered, labels)``."""

    joint: tuple[int, int]
    analytic: tuple[int, int]
    verdict: Verdict


def labels_inefficient(joint: tuple[int, int], analytic: tuple[int, int]) -> LabelsOutcome:
    """"DLG is inefficient in finding labels": its joint optimisation misses labels that reading
    them off the gradient finds. DOES_NOT_HOLD when DLG recovered every label; PARTLY when the
    analytic rule misses some too."""
    verdict = (Verdict.NOT_MEASURED if not joint[1] or not analytic[1] else
               Verdict.DOES_NOT_HOLD if joint[0] == joint[1] else
               Verdict.HOLDS if analytic[0] == analytic[1] else Verdict.PARTLY)
    return LabelsOutcome(joint, analytic, verdict)


class Ending(Enum):
    """How a run ended."""

    DIVERGED = "diverged"
    STOPPED_EARLY = "stopped early"
    STILL_FALLING = "still falling"
    LEVELLED_OFF = "levelled off"


@dataclass(frozen=True)
class RunEnding:
    """How one run ended, with the steps it took of its budget and, for a run that took them
    all, its metric ``window`` steps before the end and at the end."""

    ending: Ending
    steps: int
    budget: int
    attempts: int
    before: float
    after: float


def how_it_ended(result: AttackResult, budget: int, window: int = FALLING_WINDOW,
                 metric: str = "aligned_mse") -> RunEnding:
    """Every attempt diverged; or the run stopped early (matched, or its attempts used up); or it
    ran all ``budget`` steps and ``metric`` was still falling
    (:func:`~dlg_helpers.measures.criteria.still_falling`) or had levelled off."""
    nan = float("nan")
    attempts = len(result.attempts)
    if diverged(result):
        return RunEnding(Ending.DIVERGED, result.steps, budget, attempts, nan, nan)
    if result.steps < budget:
        return RunEnding(Ending.STOPPED_EARLY, result.steps, budget, attempts, nan, nan)
    ending = (Ending.STILL_FALLING if still_falling(result, budget, window, metric)
              else Ending.LEVELLED_OFF)
    return RunEnding(ending, result.steps, budget, attempts,
                     result.value_at(max(0, budget - window), metric),
                     result.value_at(budget, metric))


PREVENTED_SHARE = 0.1
"""The largest share of private images still leaking at which a change "prevents" leakage: one
image in ten. A change that lowers the share measurably but leaves more has not prevented it."""


@dataclass(frozen=True)
class Prevention:
    """Whether a change prevents leakage: did the share fall measurably (``lowered``: the 95 %
    intervals do not overlap), to at most :data:`PREVENTED_SHARE`, and does its interval stay
    below that too (``certain``)?"""

    lowered: bool
    certain: bool
    verdict: Verdict


def factor_prevents(before: Mapping[str, Any], after: Mapping[str, Any]) -> Prevention:
    """Whether a change prevents leakage, from the share of private images that leaked without it
    (``before``) and with it (``after``), each an
    :func:`~dlg_helpers.analysis.atlas.image_rate` row (``rate`` and its 95 % interval
    ``low``–``high``).

    HOLDS when the share fell measurably to at most :data:`PREVENTED_SHARE` (``certain`` when
    its interval stays below it too); PARTLY when it fell measurably but more still leak;
    DOES_NOT_HOLD when the intervals overlap.
    """
    lowered = after["high"] < before["low"]
    prevented = lowered and after["rate"] <= PREVENTED_SHARE
    verdict = (Verdict.HOLDS if prevented else Verdict.PARTLY if lowered
               else Verdict.DOES_NOT_HOLD)
    return Prevention(lowered, prevented and after["high"] <= PREVENTED_SHARE, verdict)
