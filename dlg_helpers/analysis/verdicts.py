"""The report's claims beside the measurements that test them, each with a verdict the code decides.

Every function takes stored runs (or numbers measured from them) and returns a :class:`Claim`: the
report's words, what was measured, and one of a few verdicts: ``"holds"``, ``"does not hold"``,
``"holds on k of n images only"``, or one that names its condition. A verdict is never typed by
hand, so it changes when the runs do; with no runs it is ``"not measured"``, and a verdict on one
or two runs says it is indicative (:func:`indicative`). Whether a run shows its image is the
course's one definition of leakage (:func:`~dlg_helpers.analysis.criteria.leaks`).
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
from .comparison import attempt_counts, leak_counts, paired_orders
from .criteria import FALLING_WINDOW, diverged, fall, still_falling
from .intervals import INDICATIVE_BELOW, rate_text, share_text, wilson
from .rows import result_row

__all__ = ["within_an_order", "converges_by", "restarts_rescue", "batch_makes_worse",
           "activation_in", "effect_on_attack", "how_it_ended", "HOLDS", "NOT_SHOWN",
           "NOT_MEASURED", "Claim", "verdict_table", "under", "share_verdict", "indicative",
           "an_order_lower", "converges_in_about", "needs_more_steps", "optimiser_rests_by",
           "shows_nothing", "larger_models_leak_less", "architecture_as_defence",
           "parameter_count", "activation_needed", "labels_inefficient", "PREVENTED_SHARE",
           "factor_prevents"]


HOLDS = "holds"


DOES_NOT_HOLD = "does not hold"


NOT_MEASURED = "not measured"


NOT_SHOWN = "not shown"
"""The verdict when the runs that should test a claim could not: the optimiser diverged from every
start, so the picture never moved and nothing was learnt about the gradient."""


def indicative(verdict: str, runs: int) -> str:
    """``verdict`` marked as indicative when it rests on fewer than
    :data:`~dlg_helpers.analysis.intervals.INDICATIVE_BELOW` runs, with the reason."""
    if runs >= INDICATIVE_BELOW:
        return verdict
    return (f"{verdict} (indicative: {runs} run{'s' if runs != 1 else ''}, too few to tell the "
            "model from the luck of one random start)")


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
    does, else ``"holds on count of total <what> only"``; marked :func:`indicative` below three
    cases."""
    if total == 0:
        return NOT_MEASURED
    if count == total:
        return indicative(every, total)
    return indicative(DOES_NOT_HOLD if count == 0 else f"holds on {count} of {total} {what} only",
                      total)


def effect_on_attack(cause: str, before: tuple[int, int], after: tuple[int, int]) -> str:
    """What ``cause`` did to the attack, from how many runs leaked without it (``before``,
    ``(leaked, runs)``) and with it (``after``): harder, easier, or no change in what leaks."""
    if not before[1] or not after[1]:
        return NOT_MEASURED
    was, now = before[0] / before[1], after[0] / after[1]
    effect = ("made the attack harder" if now < was else
              "made the attack easier" if now > was else "changed nothing that leaks")
    return (f"{cause} {effect}: leaked in {before[0]} of {before[1]} runs without it, "
            f"{after[0]} of {after[1]} with it")


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


def batch_makes_worse(by_model: Mapping[str, Mapping[int, tuple[int, int]]]) -> str:
    """The verdict on "a larger batch prevents leakage", model by model: did the share of private
    images identified (``(identified, images)`` by batch size) fall, from the smallest batch to
    the largest, to less than half (7 of 8 against 1 of 1 is a batch that still leaks)? One
    sentence that names each model's counts and says where it holds and where not; a batch size
    measured by one run each is flagged as indicative."""
    fell, held = [], []
    for model, counts in by_model.items():
        measured = {size: c for size, c in counts.items() if c[1]}
        if len(measured) < 2:
            continue
        small, large = min(measured), max(measured)
        (a, n), (b, m) = measured[small], measured[large]
        text = f"{model}: {a} of {n} alone, {b} of {m} in a batch of {large}"
        (fell if b / m < a / n / 2 else held).append(text)
    if not fell and not held:
        return "is not measured"
    note = " (indicative: one run per batch size)"
    if fell and not held:
        return f"holds on every model measured ({'; '.join(fell)}){note}"
    if held and not fell:
        return (f"does not hold: no model gave up a smaller share of its images in the larger "
                f"batch ({'; '.join(held)}){note}")
    return (f"holds on {', '.join(t.split(':')[0] for t in fell)} only ({'; '.join(fell)}); "
            f"not on {', '.join(t.split(':')[0] for t in held)} ({'; '.join(held)}){note}")


def an_order_lower(quote: str, rows: Sequence[Mapping[str, Any]], higher: str, lower: str,
                   names: Mapping[str, str], steps: int, key: str = "mse",
                   units: str = "") -> Claim:
    """Group ``lower``'s final MSE (row ``key``: ``"mse"`` on [0, 1] pixels, ``"input_mse"`` in
    the model's input units, named by ``units``) at least one order of magnitude below
    ``higher``'s, image by image (rows of :func:`~dlg_helpers.analysis.comparison.collect`)."""
    gaps = paired_orders(rows, higher, lower, key)
    if not gaps:
        return Claim(quote, f"no image run on both {names[higher]} and {names[lower]}",
                     NOT_MEASURED)
    at_least_one = sum(gap >= 1 for gap in gaps.values())
    unit_text = f" ({units})" if units else ""
    return Claim(quote, (
        f"after {steps} steps, {names[higher]}'s MSE{unit_text} is "
        f"{statistics.median(gaps.values()):.1f} orders of magnitude above {names[lower]}'s "
        f"(median over {len(gaps)} shared images; {min(gaps.values()):.1f} to "
        f"{max(gaps.values()):.1f}); at least one order on {at_least_one} of {len(gaps)}"),
        share_verdict(at_least_one, len(gaps)))


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
        f"{window} steps the aligned MSE fell by a median {statistics.median(falls):.0%}"),
        indicative(verdict, len(results)))


def _leaked(results: Sequence[AttackResult]) -> int:
    return sum(bool(result_row(r)["leaks"]) for r in results)


def optimiser_rests_by(quote: str, results: Sequence[AttackResult], name: str,
                       limit: int) -> Claim:
    """L-BFGS came to rest (:meth:`~dlg_helpers.attack.trace.AttackResult.resting_step`) by step
    ``limit``; and whether the image came with it (it leaks,
    :func:`~dlg_helpers.analysis.criteria.leaks`)."""
    if not results:
        return Claim(quote, f"no {name} run stored", NOT_MEASURED)
    resting = [r.resting_step() for r in results]
    rested = sum(step is not None and step <= limit for step in resting)
    shown = _leaked(results)
    verdict = share_verdict(rested, len(results))
    if rested and shown < len(results):
        verdict += f" for the optimiser; the image came with it in {shown} of {len(results)}"
    return Claim(quote, (
        f"in its {len(results)} runs L-BFGS came to rest at steps "
        + ", ".join("never" if s is None else str(s) for s in resting)
        + f"; the image leaked in {shown} of {len(results)}"), verdict)


def shows_nothing(quote: str, results: Sequence[AttackResult], name: str,
                  working: Sequence[AttackResult] = (), working_name: str = "") -> Claim:
    """No run leaks its image (:func:`~dlg_helpers.analysis.criteria.leaks`; a batch leaks when
    any of its images does).

    A run whose optimiser diverged from every random start never moved the picture: it shows
    nothing about the gradient. So when every run of ``results`` diverged the claim is
    :data:`NOT_SHOWN`, unless the runs of an attack that did not diverge (``working``, named
    ``working_name``) also leak nothing; then it holds, on their evidence.
    """
    if not results:
        return Claim(quote, f"no {name} run stored", NOT_MEASURED)
    counts = attempt_counts(results)
    leaked = _leaked(results)
    text = (f"{counts['diverged']} of {counts['attempts']} random starts diverged; the image "
            f"leaked in {leaked} of {len(results)} runs")
    if leaked:
        return Claim(quote, text, indicative(DOES_NOT_HOLD, len(results)))
    if not all(diverged(r) for r in results):
        return Claim(quote, text, indicative(HOLDS, len(results)))
    tested = [r for r in working if not diverged(r)]
    if not tested:
        return Claim(quote, text + "; the optimiser failed, so the gradient was never tested",
                     NOT_SHOWN)
    other = _leaked(tested)
    text += f"; {working_name}, which does not diverge, leaked in {other} of {len(tested)}"
    return Claim(quote, text, indicative(DOES_NOT_HOLD if other else HOLDS, len(tested)))


def larger_models_leak_less(quote: str, sizes: Mapping[str, tuple[int, int, int]]) -> Claim:
    """Ordered by parameter count, a larger model leaks measurably less often than a smaller one,
    and never measurably more. ``sizes`` maps a model's name to (parameters, runs that leaked,
    runs); pass only models whose attack was tested (:data:`NOT_SHOWN` models, whose optimiser
    diverged everywhere, say nothing of their size).

    "Measurably" means the rates' 95 % Wilson intervals do not overlap: a difference of one run
    in two or five is chance. A verdict on models run once or twice is :func:`indicative`.
    """
    if len(sizes) < 2:
        return Claim(quote, f"{len(sizes)} model(s) measured; the claim compares two or more",
                     NOT_MEASURED)
    order = sorted(sizes, key=lambda name: sizes[name][0])
    interval = {name: wilson(sizes[name][1], sizes[name][2]) for name in order}
    text = "runs that leaked, by measured size: " + ", ".join(
        f"{name} ({sizes[name][0] / 1e6:.2g} M) {sizes[name][1]} of {sizes[name][2]}"
        for name in order)
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
    rises = [(a, b) for a, b in pairs if interval[b][0] > interval[a][1]]
    falls = [(a, b) for a, b in pairs if interval[b][1] < interval[a][0]]
    if rises:
        verdict = DOES_NOT_HOLD + ": " + "; ".join(
            f"{b} leaks more often than the smaller {a}" for a, b in rises)
    elif falls:
        verdict = HOLDS + " between " + "; ".join(f"{a} and the larger {b}" for a, b in falls)
    elif all(sizes[name][1] == sizes[name][2] for name in order):
        verdict = DOES_NOT_HOLD + ": every model leaks in every run"
    else:
        verdict = (DOES_NOT_HOLD + ": no larger model leaks measurably less often (the rates' "
                   "95 % intervals overlap)")
    return Claim(quote, text, indicative(verdict, min(sizes[name][2] for name in order)))


def architecture_as_defence(leaks: Mapping[str, tuple[int, int]]) -> str:
    """Whether choosing a large model still defends, from each large model's ``(leaked, runs)``
    under one attack (only the models tested): it does not survive as soon as one of them
    leaks."""
    if not leaks:
        return "is not measured"
    leaking = [name for name, (leaked, _) in leaks.items() if leaked]
    hidden = [name for name, (leaked, _) in leaks.items() if not leaked]
    if not leaking:
        return f"survives on {_names(hidden)} (no run leaked)"
    text = "does not survive: " + ", ".join(
        f"{name} leaked in {leaks[name][0]} of {leaks[name][1]} runs" for name in leaking)
    if not hidden:
        return text
    return text + f", while {_names(hidden)} leaked in none"


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


def activation_needed(quote: str, network: str, sigmoid: tuple[int, int],
                      relu: tuple[int, int], attack: str = "DLG") -> Claim:
    """Sigmoid is needed: the same images' runs of ``network`` under ``attack`` leak with
    Sigmoid and not with ReLU. ``sigmoid`` and ``relu`` are ``(runs that leaked, runs)``."""
    if relu[1] == 0:
        return Claim(quote, f"no ReLU run of {network} stored", NOT_MEASURED)
    verdict = (f"cannot be judged here: {attack} leaks nothing even with Sigmoid"
               if sigmoid[0] == 0
               else HOLDS if relu[0] == 0 else
               "holds only in degree: the ReLU network still leaks" if relu[0] < sigmoid[0] else
               DOES_NOT_HOLD)
    return Claim(quote, f"{network}, the same images: leaked in {rate_text(*sigmoid)} with "
                        f"Sigmoid, {rate_text(*relu)} with ReLU",
                 indicative(verdict, relu[1]))


def labels_inefficient(quote: str, joint: tuple[int, int], analytic: tuple[int, int]) -> Claim:
    """DLG, which optimises a soft label with the image, misses labels that reading them off the
    gradient (iDLG) finds. ``joint`` and ``analytic`` are ``(labels recovered, labels)``."""
    if not joint[1] or not analytic[1]:
        return Claim(quote, "no runs of both label attacks stored", NOT_MEASURED)
    verdict = (DOES_NOT_HOLD + ": DLG recovered every label here" if joint[0] == joint[1] else
               HOLDS if analytic[0] == analytic[1] else
               "holds only in degree: reading the label off the gradient misses some too")
    return Claim(quote, f"labels recovered: DLG's joint optimisation "
                        f"{rate_text(*joint, what='labels')}; read off the gradient (iDLG) "
                        f"{rate_text(*analytic, what='labels')}",
                 indicative(verdict, joint[1]))


def activation_in(summary: Mapping[str, Mapping[str, Any]], network: str,
                  quote: str = "") -> Claim:
    """:func:`activation_needed` for ``network`` from a summary whose groups
    ``"<network>, Sigmoid"`` and ``"<network>, ReLU"`` hold the same images' runs."""
    return activation_needed(quote, network, leak_counts(summary, f"{network}, Sigmoid"),
                             leak_counts(summary, f"{network}, ReLU"))


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


PREVENTED_SHARE = 0.1
"""The largest share of private images still leaking at which a change "prevents" leakage: one
image in ten. A change that lowers the share measurably but leaves more has not prevented it."""


def factor_prevents(quote: str, cause: str, before: Mapping[str, Any],
                    after: Mapping[str, Any]) -> Claim:
    """Whether ``cause`` prevents leakage, from the share of private images that leaked without
    it (``before``) and with it (``after``), each an
    :func:`~dlg_helpers.analysis.atlas.image_rate` row (``identified``, ``images``, ``rate``
    and its 95 % interval ``low``–``high``, and the level's ``label`` when it has one).

    It holds when the share fell measurably (the intervals do not overlap) to at most
    :data:`PREVENTED_SHARE`, with a caveat when its interval still reaches above that; a
    measurable fall that leaves more leaking lowers the rate without preventing leakage;
    otherwise it does not hold.
    """
    def share(row: Mapping[str, Any], name: str) -> str:
        return (f"{row.get('label', name)}: "
                + share_text(row["identified"], row["images"], row["low"], row["high"], "images"))

    measured = (f"images leaked, {share(before, f'without {cause}')}; "
                f"{share(after, f'with {cause}')}")
    if after["high"] < before["low"] and after["rate"] <= PREVENTED_SHARE:
        verdict = (HOLDS if after["high"] <= PREVENTED_SHARE else
                   f"{HOLDS}, as far as {after.get('attacks', after['images'])} attacks can "
                   f"tell (the interval reaches {100 * after['high']:.0f} %)")
    elif after["high"] < before["low"]:
        verdict = (f"{DOES_NOT_HOLD} as stated: {cause} lowers the rate without preventing "
                   "leakage")
    else:
        verdict = (f"{DOES_NOT_HOLD}: {cause} did not lower the rate measurably (the 95 % "
                   "intervals overlap)")
    return Claim(quote, measured, indicative(verdict, min(before["images"], after["images"])))
