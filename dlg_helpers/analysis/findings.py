"""The numbers each analysis chapter's prose quotes, by the names it glues them under.

A chapter's glue cell is one call: the measurements and verdicts are computed here, from the
stored runs the chapter loaded, and tested like every other piece.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..attack.trace import AttackResult
from . import protection, verdicts
from .comparison import orders_apart, unreconstructed
from .criteria import FALLING_WINDOW, fall, halving_steps, still_falling
from .metrics import aligned_mse
from .probes import uniform_noise
from .rows import result_row

__all__ = ["lenet_failures", "resnet_steps", "densenet_claims", "gap_text", "NAMED_DEFENCES",
           "defences"]


def lenet_failures(lenets: Mapping[str, AttackResult], step: int) -> str:
    """The LeNet runs (by image) whose aligned MSE after ``step`` steps does not count as
    reconstructed, each with its MSE, or ``"none"``."""
    failed = unreconstructed(lenets, step)
    return "none" if not failed else ", ".join(
        f"{image} (its MSE {lenets[image].final_mse:.2g})" for image in failed)


def resnet_steps(results: Mapping[str, AttackResult], lenets: Mapping[str, AttackResult],
                 steps: int, window: int | None = None) -> dict[str, Any]:
    """The ResNet-18 chapter's claims: does DLG need more than ``steps`` steps (was the aligned
    MSE still falling over the last ``window``; None: the criteria's window, or all the steps
    when there are fewer), and is its error an order of magnitude above LeNet's on the same
    images (``results`` and ``lenets`` by image)."""
    window = min(FALLING_WINDOW, steps) if window is None else window
    falls = {image: fall(r, steps, window) for image, r in results.items()}
    distance_falls = {image: fall(r, steps, window, "grad_distance")
                      for image, r in results.items()}
    falling = {image: still_falling(r, steps, window) for image, r in results.items()}
    halving = [h for h in (halving_steps(r, steps, window) for r in results.values())
               if h is not None]
    raw_gaps = orders_apart(results, lenets, steps)
    aligned_gaps = orders_apart(results, lenets, steps, "aligned_mse")
    first = next(iter(results.values()))
    return {
        "image_count": len(results),
        "window": window,
        "falling_count": sum(falling.values()),
        "aligned_drop": min(falls.values()),
        "distance_drop": min(distance_falls.values()),
        "halving_steps": min(halving, default=math.nan),
        "aligned_start": first.value_at(0, "aligned_mse"),
        "gap_by_image": "; ".join(
            f"on the {image}, {gap_text(raw_gaps[image])} "
            f"({gap_text(aligned_gaps[image], short=True)} after alignment)" for image in results),
        "lenet_failures": lenet_failures(lenets, steps),
        "resnet_aligned_end": min(r.value_at(steps, "aligned_mse") for r in results.values()),
        "label_count": sum(r.label_correct for r in results.values()),
        "verdict_steps": verdicts.share_verdict(sum(falling.values()), len(falling)),
        "verdict_gap": verdicts.share_verdict(sum(gap >= 1 for gap in aligned_gaps.values()),
                                              len(results)),
    }


def gap_text(orders: float, short: bool = False) -> str:
    """A signed gap in orders of magnitude as a sentence says it: ``"5.1 orders of magnitude
    above"``, ``"1.8 below"`` (``short``), ``"level"`` within 0.05 of none."""
    if abs(orders) < 0.05:
        return "level"
    side = "above" if orders > 0 else "below"
    unit = "" if short else (" order of magnitude" if round(abs(orders), 1) == 1
                             else " orders of magnitude")
    return f"{abs(orders):.1f}{unit} {side}"


def densenet_claims(results: Mapping[str, AttackResult], resnets: Mapping[str, AttackResult],
                    lenets: Mapping[str, AttackResult], steps: int,
                    about: int) -> dict[str, Any]:
    """The DenseNet-121 chapter's claims: does L-BFGS come to rest within ``about`` steps, is
    DenseNet's error of ResNet-18's order, and an order above LeNet's (runs by image); and how
    many of its runs leaked their image."""
    first, resnet = next(iter(results.values())), next(iter(resnets.values()))
    rows = [result_row(r) for r in results.values()]
    resting = [r.resting_step() for r in results.values()]
    converged = [step is not None and step <= about for step in resting]
    gap_to_resnet = max(orders_apart(results, resnets, steps).values(), key=abs)
    aligned_gap_to_resnet = max(orders_apart(results, resnets, steps, "aligned_mse").values(),
                                key=abs)
    lenet_gaps = orders_apart(results, lenets, steps, "aligned_mse")
    return {
        "image_count": len(results),
        "densenet_resting": "never" if resting[0] is None else resting[0],
        "densenet_settling": first.settling_step("mse"),
        "about_limit": about,
        "densenet_evaluations": first.evaluations,
        "densenet_mse": first.final_mse,
        "resnet_mse": resnet.final_mse,
        "densenet_aligned": first.value_at(steps, "aligned_mse"),
        "densenet_aligned_start": first.value_at(0, "aligned_mse"),
        "noise_floor": aligned_mse(uniform_noise(seed=0)(first.truth), first.truth),
        "resnet_aligned": resnet.value_at(steps, "aligned_mse"),
        "gap_to_resnet": abs(gap_to_resnet),
        "aligned_gap_to_resnet": abs(aligned_gap_to_resnet),
        "lenet_gap_by_image": "; ".join(f"on the {image}, {gap_text(gap)}"
                                        for image, gap in lenet_gaps.items()),
        "lenet_failures": lenet_failures(lenets, steps),
        "densenet_minutes": first.wall_seconds / 60,
        "densenet_seconds_per_evaluation": first.wall_seconds / first.evaluations,
        "label_count": sum(r.label_correct for r in results.values()),
        "leak_count": sum(bool(row["leaks"]) for row in rows),
        "densenet_likeness": rows[0]["likeness"],
        "verdict_50": verdicts.share_verdict(sum(converged), len(converged),
                                             every="holds, and sooner than stated"),
        "verdict_order": verdicts.within_an_order(gap_to_resnet, aligned_gap_to_resnet),
        "verdict_lenet": verdicts.share_verdict(sum(gap >= 1 for gap in lenet_gaps.values()),
                                                len(lenet_gaps)),
    }


NAMED_DEFENCES = ("gaussian:0.01", "gaussian:0.001", "prune:0.1", "precision:int8", "batch:2",
                  "batch:4")
"""The settings the defences chapter's prose names, each attack's median likeness under them."""


def defences(medians: Sequence[Mapping[str, Any]], ranking: Sequence[Mapping[str, Any]],
             costs: Sequence[Mapping[str, Any]], one_at_a_time: Mapping[str, Any],
             settings: Sequence[str], attacks: Mapping[str, str]) -> dict[str, Any]:
    """The defences chapter's numbers: what each attack recovers undefended and under the named
    settings, the ranking's winners and what they cost.

    Args:
        medians: :func:`~dlg_helpers.analysis.protection.median_outcomes` of the attacks under
            ``settings``.
        ranking: :func:`~dlg_helpers.analysis.protection.protection_ranking` of them.
        costs: the settings' prices
            (:func:`~dlg_helpers.analysis.prices.stored_training_costs`).
        one_at_a_time: the undefended price when training one image at a time.
        settings: the defence settings tried, ``"none"`` among them.
        attacks: each attack's short label in the glue names, by its name in ``medians``
            (``{"DLG": "dlg", "inverting gradients": "ig"}``); ``<second>_better_count``
            counts the defended settings under which the second recovers more than the first.
    """
    nan = math.nan
    by_key = {(m["attack"], m["defence"]): m for m in medians}
    accuracy = {c["defence"]: c["accuracy"] for c in costs}
    found: dict[str, Any] = {}
    for attack, label in attacks.items():
        clean = by_key[attack, protection.NO_DEFENCE]
        found[f"{label}_clean_likeness"] = clean["likeness"]
        found[f"{label}_clean_leaked"] = f"{clean['leaked']} of {clean['images']}"
        found[f"{label}_clean_mse"] = clean["mse"]
        for defence in NAMED_DEFENCES:
            key = defence.replace(":", "_").replace(".", "")
            found[f"{label}_{key}"] = by_key.get((attack, defence), {"likeness": nan})["likeness"]
    defended = [d for d in settings if d != protection.NO_DEFENCE]
    stronger, weaker = list(attacks)[1], list(attacks)[0]
    found["defended_count"] = len(defended)
    found[f"{attacks[stronger]}_better_count"] = sum(
        by_key[stronger, d]["likeness"] > by_key[weaker, d]["likeness"] for d in defended)
    found["clean_accuracy"] = accuracy[protection.NO_DEFENCE]
    found["batch_4_accuracy"] = accuracy.get("batch:4", nan)
    found["single_accuracy"] = one_at_a_time["accuracy"]
    found["batch_4_cost"] = one_at_a_time["accuracy"] - accuracy.get("batch:4", nan)
    stopping = [r for r in ranking if r["setting"] is not None]
    best = ranking[0]
    found["stopping_count"] = len(stopping)
    found["family_count"] = len(ranking)
    found["best_family"] = best["family"] if best["setting"] else "none"
    found["best_setting"] = best["setting"] or "none of the settings tried"
    gradient_best = next((r for r in stopping if r["family"] != protection.BATCH),
                         {"family": "none", "setting": "none of the settings tried",
                          "accuracy": nan})
    found["gradient_best_family"] = gradient_best["family"]
    found["gradient_best_setting"] = gradient_best["setting"]
    found["gradient_best_accuracy"] = (nan if gradient_best["accuracy"] is None
                                       else gradient_best["accuracy"])
    drop = best["accuracy_drop"]
    found["best_change"] = ("not measured" if drop is None else
                            f"{abs(drop):.2f} {'below' if drop >= 0 else 'above'}")
    found["best_accuracy"] = nan if best["accuracy"] is None else best["accuracy"]
    dp = next((c for c in costs if c["defence"] == "dpsgd:1.0"),
              {"epsilon": nan, "accuracy": nan})
    found["dp_epsilon"] = dp["epsilon"]
    found["dp_accuracy"] = dp["accuracy"]
    return found
