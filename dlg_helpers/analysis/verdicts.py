"""The report's claims beside the measurements that test them, each with a verdict the code decides.

Every function takes stored runs (or numbers measured from them) and returns a :class:`Claim`: the
report's words, what was measured, and one of a few verdicts: ``"holds"``, ``"does not hold"``,
``"holds on k of n images only"``, or one that names its condition. A verdict is never typed by
hand, so it changes when the runs do; with no runs it is ``"not measured yet"``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from IPython.display import Markdown

from ..attack.registry import OPTIMISER_NAMES
from ..attack.trace import AttackResult
from ..book.tables import markdown_table
from .comparison import attempt_counts, paired_orders, value
from .criteria import FALLING_WINDOW, SSIM_TIE, diverged, fall, still_falling
from .metrics import best_recovered

__all__ = ["within_an_order", "converges_by", "restarts_rescue", "batch_makes_worse",
           "activation_in", "effect_on_attack", "how_it_ended", "HOLDS", "NOT_MEASURED", "Claim",
           "verdict_table", "under", "share_verdict", "an_order_lower", "converges_in_about",
           "needs_more_steps", "optimiser_rests_by", "shows_nothing", "larger_models_leak_less",
           "parameter_count", "activation_needed"]


HOLDS = "holds"


DOES_NOT_HOLD = "does not hold"


NOT_MEASURED = "not measured yet"

# SSIM differences this small are ties: with one run per large model (hours each on a CPU) there is
# no spread to tell them from the chance of the random start.


@dataclass(frozen=True)
class Claim:
    """One claim of the report (quoted), the measurement that tests it, and the verdict."""

    claim: str
    measured: str
    verdict: str

    def sentence(self, name: str) -> str:
        """The measurement with the verdict in brackets, for prose: ``"... (verdict on “name”:
        holds)"``."""
        return f"{self.measured} (verdict on “{name}”: {self.verdict})"


def verdict_table(claims: Sequence[Claim]) -> Markdown:
    """The claims, each quoted, beside the measurement and the verdict."""
    return markdown_table([{"claim": f"“{c.claim}”", "measured": c.measured,
                            "verdict": f"**{c.verdict}**"} for c in claims], {
        "claim": ("the report says", str), "measured": ("we measured", str),
        "verdict": ("verdict", str),
    })


def under(attack: str, claim: Claim) -> Claim:
    """``claim`` with its measurement labelled by the attack that made it, for a table that
    judges one claim under several attacks."""
    return replace(claim, measured=f"under {attack}: {claim.measured}")


def share_verdict(count: int, total: int, what: str = "images", every: str = HOLDS) -> str:
    """``every`` (``"holds"``) when all ``total`` cases agree, ``"does not hold"`` when none
    does, else ``"holds on count of total <what> only"``."""
    if total == 0:
        return NOT_MEASURED
    if count == total:
        return every
    return DOES_NOT_HOLD if count == 0 else f"holds on {count} of {total} {what} only"


def effect_on_attack(cause: str, change: float, tie: float = SSIM_TIE) -> str:
    """What ``cause`` did to the attack, from the change of its median SSIM: harder, easier, or
    little (a change of ``tie`` or less either way); "not measured yet" for NaN."""
    if math.isnan(change):
        return NOT_MEASURED
    effect = ("made the attack harder" if change < -tie else
              "made the attack easier" if change > tie else "changed little")
    return f"{cause} {effect} (median SSIM {change:+.2f})"


def within_an_order(*gaps: float) -> str:
    """Two measures are of the same order when every gap between them (in orders of magnitude)
    is below one."""
    return HOLDS if all(abs(gap) < 1 for gap in gaps) else DOES_NOT_HOLD


def converges_by(median_step: float | None, about: tuple[int, int], stated: int) -> str:
    """The report's "converges in about ``stated`` steps", read as a median first step below
    the threshold within ``about``."""
    if median_step is not None and about[0] <= median_step <= about[1]:
        return f"the claim holds: convergence takes on the order of {stated} steps"
    return "the claim does not hold in our measurement"


def restarts_rescue(rescued: float, runs: float) -> str:
    """How many of ``runs`` runs that restart on a plateau reached the threshold, and what that
    says of a failure ("nan" counts: none stored)."""
    text = f"{rescued} of {runs} runs"
    if math.isnan(rescued):
        return text
    return text + (": the failure is not a matter of luck" if rescued == 0
                   else ": restarts rescue some of them")


def batch_makes_worse(first_ssim: float, last_ssim: float, tie: float = SSIM_TIE) -> str:
    """The verdict on "a larger batch protects": the best-recovered image's median SSIM fell
    by more than ``tie`` from the smallest batch to the largest, on the model that leaks."""
    if math.isnan(last_ssim - first_ssim):
        return "is not measured yet"
    if last_ssim < first_ssim - tie:
        return "holds: on the model that leaks, a larger batch made DLG's reconstructions worse"
    return "does not hold here: LeNet's reconstructions did not get worse with the batch"


def an_order_lower(quote: str, rows: Sequence[Mapping[str, Any]], higher: str, lower: str,
                   names: Mapping[str, str], steps: int) -> Claim:
    """Group ``lower``'s final MSE at least one order of magnitude below ``higher``'s, image by
    image (rows of :func:`~dlg_helpers.analysis.comparison.collect`)."""
    gaps = paired_orders(rows, higher, lower)
    if not gaps:
        return Claim(quote, f"no image run on both {names[higher]} and {names[lower]}",
                     NOT_MEASURED)
    at_least_one = sum(gap >= 1 for gap in gaps.values())
    return Claim(quote, (
        f"after {steps} steps, {names[higher]}'s MSE is {statistics.median(gaps.values()):.1f} "
        f"orders of magnitude above {names[lower]}'s (median over {len(gaps)} shared images; "
        f"{min(gaps.values()):.1f} to {max(gaps.values()):.1f}); at least one order on "
        f"{at_least_one} of {len(gaps)}"), share_verdict(at_least_one, len(gaps)))


def converges_in_about(quote: str, results: Sequence[AttackResult], name: str,
                       about: tuple[int, int], threshold: float) -> Claim:
    """The runs first reach an MSE below ``threshold`` at a step within ``about``."""
    steps = [r.first_step_below(threshold) for r in results]
    reached = [step for step in steps if step is not None]
    if not reached:
        return Claim(quote, f"{len(results)} {name} runs, none reached MSE < {threshold:g}",
                     NOT_MEASURED if not results else DOES_NOT_HOLD)
    within = sum(about[0] <= step <= about[1] for step in reached)
    return Claim(quote, (
        f"{len(reached)} of {len(steps)} {name} runs reached MSE < {threshold:g}, at a median "
        f"step {statistics.median(reached):.0f} ({min(reached)} to {max(reached)}); {within} "
        f"between steps {about[0]} and {about[1]}"), share_verdict(within, len(steps)))


def needs_more_steps(quote: str, results: Sequence[AttackResult], name: str, window: int,
                     threshold: float) -> Claim:
    """No run reached an MSE below ``threshold`` in its budget, and whether the aligned MSE was
    still falling over the last ``window`` steps."""
    if not results:
        return Claim(quote, f"no {name} run stored", NOT_MEASURED)
    reached = sum(r.first_step_below(threshold) is not None for r in results)
    falls = [fall(r, window=window) for r in results]
    verdict = (DOES_NOT_HOLD if reached else
               HOLDS if all(still_falling(r, window=window) for r in results) else
               "holds, though the runs had stopped improving")
    return Claim(quote, (
        f"{reached} of {len(results)} {name} runs reached MSE < {threshold:g}; over their last "
        f"{window} steps the aligned MSE fell by a median {statistics.median(falls):.0%}"), verdict)


def optimiser_rests_by(quote: str, results: Sequence[AttackResult], name: str, limit: int,
                       protected: float) -> Claim:
    """L-BFGS came to rest (:meth:`~dlg_helpers.attack.trace.AttackResult.resting_step`) by step
    ``limit``; and whether the image came with it (SSIM at least ``protected``)."""
    if not results:
        return Claim(quote, f"no {name} run stored", NOT_MEASURED)
    resting = [r.resting_step() for r in results]
    rested = sum(step is not None and step <= limit for step in resting)
    shown = sum(_shown_ssim(r) >= protected for r in results)
    verdict = share_verdict(rested, len(results))
    if rested and shown < len(results):
        verdict += f" for the optimiser; the image came with it in {shown} of {len(results)}"
    return Claim(quote, (
        f"in its {len(results)} runs L-BFGS came to rest at steps "
        + ", ".join("never" if s is None else str(s) for s in resting)
        + f"; SSIM at least {protected} (the picture shown) in {shown}"), verdict)


def _shown_ssim(result: AttackResult) -> float:
    """The SSIM a verdict judges: a batch's best-recovered image's."""
    return best_recovered(result.reconstruction, result.truth)["ssim"]


def shows_nothing(quote: str, results: Sequence[AttackResult], name: str,
                  protected: float) -> Claim:
    """Every run's kept reconstruction has an SSIM below ``protected``: nothing is shown. A
    batch is judged by its best-recovered image
    (:func:`~dlg_helpers.analysis.metrics.best_recovered`)."""
    if not results:
        return Claim(quote, f"no {name} run stored", NOT_MEASURED)
    counts = attempt_counts(results)
    best = max(_shown_ssim(r) for r in results)
    return Claim(quote, (
        f"{counts['diverged']} of {counts['attempts']} random starts diverged; the best-recovered "
        f"image kept has SSIM {best:.3f} (below {protected} shows nothing)"),
        HOLDS if best < protected else DOES_NOT_HOLD)


def larger_models_leak_less(quote: str, sizes: Mapping[str, tuple[int, float]],
                            protected: float, tie: float = SSIM_TIE) -> Claim:
    """Ordered by parameter count, the models' median SSIM never rises. ``sizes`` maps a model's
    name to (parameters, median SSIM). Below ``protected`` no picture is shown, so an order
    among models that all score below it says nothing and is not counted against the claim;
    nor is a rise of ``tie`` or less, which one run per model cannot tell from chance. With
    fewer than two models measured the claim is not measured."""
    if len(sizes) < 2:
        return Claim(quote, f"{len(sizes)} model(s) measured; the claim compares two or more",
                     NOT_MEASURED)
    order = sorted(sizes, key=lambda name: sizes[name][0])
    text = "median SSIM by measured size: " + ", ".join(
        f"{name} ({sizes[name][0] / 1e6:.2g} M) {sizes[name][1]:.2f}" for name in order)
    pairs = [(a, b) for a, b in zip(order, order[1:]) if sizes[b][1] >= protected]
    rises = [(a, b) for a, b in pairs if sizes[b][1] - sizes[a][1] > tie]
    ties = [(a, b) for a, b in pairs if 0 < sizes[b][1] - sizes[a][1] <= tie]
    text += "".join(f"; {b} scores above the smaller {a} by {sizes[b][1] - sizes[a][1]:.2f}, "
                    f"a tie (within {tie})" for a, b in ties)
    if not rises:
        shown = [name for name in order if sizes[name][1] >= protected]
        if len(shown) == 1 and order[0] == shown[0]:
            return Claim(quote, text, f"holds only between {shown[0]} and the rest, which all "
                         f"show nothing (SSIM below {protected}) whatever their size")
        if len(shown) == len(order):  # less, but none of them hides the image
            return Claim(quote, text, "holds only in degree: every model measured still shows "
                         f"the image (SSIM {protected} or more), the larger ones less")
        return Claim(quote, text, HOLDS)
    return Claim(quote, text + "; but " + "; ".join(
        f"{b} leaks more than the smaller {a}" for a, b in rises), DOES_NOT_HOLD)


def architecture_as_defence(ssims: Mapping[str, float], protected: float) -> str:
    """Whether choosing a large model still defends, from each large model's median SSIM under
    one attack (``ssims``, only the models measured): it does not survive as soon as one of
    them shows the image (SSIM ``protected`` or more)."""
    if not ssims:
        return "is not measured yet"
    leaking = [name for name, value in ssims.items() if value >= protected]
    hidden = [name for name, value in ssims.items() if value < protected]
    if not leaking:
        return f"survives on {_names(hidden)} (median SSIM below {protected})"
    text = "does not survive: " + ", ".join(f"{name}'s image comes back (median SSIM "
                                            f"{ssims[name]:.2f})" for name in leaking)
    if not hidden:
        return text
    return text + f", while {_names(hidden)} still show{'s' if len(hidden) == 1 else ''} nothing"


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def parameter_count(quote: str, name: str, measured: int, reported: int,
                    tolerance: float = 0.1) -> Claim:
    """The report's parameter count of ``name`` (``reported``, as its words ``quote`` give it)
    within ``tolerance`` of the measured one."""
    ratio = measured / reported
    return Claim(quote, f"{name}: {measured:,} parameters ({ratio:.2f} × the report's "
                        f"{reported:,})",
                 HOLDS if abs(ratio - 1) <= tolerance else DOES_NOT_HOLD)


def activation_needed(quote: str, network: str, sigmoid: float, relu: float, runs: int,
                      protected: float, attack: str = "DLG") -> Claim:
    """Sigmoid is needed: with ReLU the same runs' median SSIM falls below ``protected`` while
    with Sigmoid it is not. ``sigmoid`` and ``relu`` are the median SSIMs over ``runs`` images
    of ``network`` under ``attack``."""
    if runs == 0:
        return Claim(quote, f"no ReLU run of {network} stored", NOT_MEASURED)
    verdict = (f"cannot be judged here: {attack} shows nothing even with Sigmoid"
               if sigmoid < protected
               else HOLDS if relu < protected else
               "holds only in degree: the ReLU network still leaks" if relu < sigmoid else
               DOES_NOT_HOLD)
    images = f"{runs} image" + ("s" if runs != 1 else "")
    return Claim(quote, f"{network}, the same {images}: median SSIM {sigmoid:.2f} with Sigmoid, "
                        f"{relu:.2f} with ReLU", verdict)


def activation_in(summary: Mapping[str, Mapping[str, Any]], network: str, protected: float,
                  quote: str = "") -> Claim:
    """:func:`activation_needed` for ``network`` from a summary whose groups
    ``"<network>, Sigmoid"`` and ``"<network>, ReLU"`` hold the same images' runs."""
    sigmoid, relu = (value(summary, f"{network}, {a}", "ssim_median") for a in ("Sigmoid", "ReLU"))
    runs = value(summary, f"{network}, ReLU", "runs")
    return activation_needed(quote, network, sigmoid, relu, 0 if math.isnan(runs) else runs,
                             protected)


def how_it_ended(result: AttackResult, steps: int, window: int = FALLING_WINDOW,
                 metric: str = "aligned_mse") -> str:
    """One sentence on how a run ended, for a verdict on "did (not) converge in ``steps``".

    Every attempt diverged; or the run stopped early (matched, or its attempts used up); or it
    ran all ``steps`` and ``metric`` was still falling
    (:func:`~dlg_helpers.analysis.criteria.still_falling`) or no longer falling.
    """
    attempts = result.attempts
    if diverged(result):
        ends = ", ".join(str(a.steps) for a in attempts)
        return (f"{OPTIMISER_NAMES[result.config.optimiser]} diverged from every one of its "
                f"{len(attempts)} random starts (each start ended at step {ends} of the shared "
                f"budget), so the run stopped after {attempts[-1].steps} of {steps} steps")
    if result.steps < steps:
        return f"the run stopped after {result.steps} of {steps} steps ({result.status})"
    before = result.value_at(max(0, steps - window), metric)
    after = result.value_at(steps, metric)
    trend = ("still falling" if still_falling(result, steps, window, metric)
             else "no longer falling")
    name = "aligned MSE" if metric == "aligned_mse" else metric.replace("_", " ")
    return (f"the run took all {steps} steps, and its {name} was {trend} "
            f"over the last {window} ({before:.2e} to {after:.2e})")
