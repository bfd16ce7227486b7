"""What a defence buys: attacks under each defence setting, their medians, and the ranking that
answers the report's research question 5 with numbers (the price of each setting is
:mod:`~dlg_helpers.analysis.prices`; the tables, :mod:`~dlg_helpers.book.defence_tables`).

Each attack under each defence is a stored run (:mod:`~dlg_helpers.runs.store`), so a chapter
reloads hundreds of them in seconds; ``python -m dlg_helpers sweep`` computes them in the
background.
"""

from __future__ import annotations

import logging

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..attack.config import AttackConfig
from ..attack.trace import AttackResult
from ..client.defences import Composed, parse_defence
from ..client.images import image_names
from ..client.victim import victim
from ..devices import pick_device
from ..measures.intervals import rate_text
from ..measures.rows import result_row
from ..runs.spec import RunSpec
from ..runs.store import load_or_run, run_many, stored_result
from .comparison import group_summary, missing_note

__all__ = ["NO_DEFENCE", "BATCH", "GUARANTEE", "HEURISTIC", "CHOICE", "MEANINGFUL_EPSILON", "kind_of", "split_batch",
           "private_batch", "describe_defence", "attack_outcomes", "median_outcomes",
           "compare_attacks", "better_count",
           "Stopped", "stopped_settings", "protection_ranking", "RankingSummary",
           "ranking_summary", "gradient_changes"]

# What was loaded, computed or missing: shown by the command line, not in the chapters.
_LOG = logging.getLogger(__name__)


NO_DEFENCE = "none"


BATCH = "batch"


GUARANTEE, HEURISTIC, CHOICE = "guarantee", "heuristic", "client's choice"

MEANINGFUL_EPSILON = 10.0
"""The largest ε at which DP-SGD is ranked as a guarantee. ε bounds how much more likely any
outcome of the training becomes when one example is added or left out, by a factor of at most
e^ε: at ε = 1 that is 2.7, at 10 already 22,000, and beyond it the bound promises nothing a
reader would call privacy, so a setting there is no guarantee worth ranking."""


def kind_of(family: str) -> str:
    """What sort of protection a defence family is: DP-SGD is a ``"guarantee"`` (a bound on what
    any attack can learn), a larger batch a ``"client's choice"`` (it changes what is trained,
    not what is shared), every other post-processing of the gradient a ``"heuristic"`` (it beats
    the attacks tried, with no bound on the next one)."""
    return GUARANTEE if family == "dpsgd" else CHOICE if family == BATCH else HEURISTIC


def split_batch(text: str) -> tuple[int, str | None]:
    """A client setting split into its batch size and its gradient defence.

    ``batch:B`` is the one defence that is not a change of the gradient: the client shares the
    mean gradient of B private images, which the attacker must untangle.
    ``"batch:4+gaussian:1e-3"`` gives ``(4, "gaussian:1e-3")``, ``"prune:0.1"`` gives
    ``(1, "prune:0.1")``, ``"batch:8"`` and ``"none"`` give ``(8, None)`` and ``(1, None)``.

    Raises:
        ValueError: for a batch size that is not a whole number of at least 1, or two of them.
    """
    if text == NO_DEFENCE:
        return 1, None
    pieces = [piece.strip() for piece in text.split("+")]
    batches = [piece for piece in pieces if piece.partition(":")[0] == BATCH]
    if len(batches) > 1:
        raise ValueError(f"{text!r} gives the batch size twice; keep one batch:B")
    size = 1
    if batches:
        words = batches[0].split(":")
        if len(words) != 2 or not words[1].isdigit() or int(words[1]) < 1:
            raise ValueError(f"cannot read {batches[0]!r}: write batch:B with B a whole number of "
                             "at least 1 (the private images per shared gradient), e.g. batch:4")
        size = int(words[1])
    rest = [piece for piece in pieces if piece not in batches]
    return size, "+".join(rest) if rest else None


def private_batch(image: str, batch_size: int, pool: Sequence[str] | None = None
                  ) -> tuple[str, ...]:
    """The private batch of a client holding ``image``: it first, then the first other images of
    ``pool`` (default: the shipped photographs, :func:`~dlg_helpers.client.images.image_names`).

    Raises:
        ValueError: when the pool has too few other images for the batch.
    """
    others = [name for name in (image_names() if pool is None else pool) if name != image]
    if batch_size - 1 > len(others):
        raise ValueError(f"a batch of {batch_size} needs {batch_size - 1} images besides "
                         f"{image!r}; the pool has {len(others)}: pass a larger pool")
    return (image, *others[:batch_size - 1])


def describe_defence(text: str) -> tuple[str, str]:
    """``(family, strength)`` of a client setting's text: ``("gaussian", "0.001")``,
    ``("batch", "4")``; ``("none", "")`` for no defence, ``("composed", text)`` for several."""
    batch_size, gradient_defence = split_batch(text)
    if gradient_defence is None:
        return (NO_DEFENCE, "") if batch_size == 1 else (BATCH, str(batch_size))
    defence = parse_defence(gradient_defence)
    if batch_size > 1:
        return "composed", f"{BATCH}:{batch_size}+{defence.text()}"
    if isinstance(defence, Composed):
        return "composed", defence.text()
    return defence.name, defence.text().split(":", 1)[1]


def attack_outcomes(model: str, images: Sequence[str], defences: Sequence[str],
                    attacks: Mapping[str, AttackConfig], results_dir: str | Path, *,
                    seed: int = 0, size: int | None = None, recompute: bool | None = False,
                    compute_missing: bool = True,
                    device: str | None = None) -> list[dict[str, Any]]:
    """Every attack on every image under every defence: one row each
    (:func:`~dlg_helpers.measures.rows.result_row`, with the attack, defence, its family and
    strength, and the image).

    Under ``batch:B`` the client's batch is the image and B - 1 others (:func:`private_batch`);
    it is judged by its best-recovered image (the row's ``best_*``), its label right when every
    label of the batch is.

    Args:
        model: registered model name.
        images: the private images, attacked one at a time.
        defences: defence texts (:func:`~dlg_helpers.client.defences.parse_defence`, and
            ``batch:B``, :func:`split_batch`), or ``"none"``.
        attacks: a name for each attack's settings, e.g. ``{"DLG": AttackConfig()}``.
        results_dir: the stored runs; missing ones are computed together by the batched
            engine (:func:`~dlg_helpers.runs.store.run_many`) and stored.
        seed: seed of the weights and of each attack's random start.
        size: image side in pixels (None: the model's own).
        recompute, device: as :func:`~dlg_helpers.runs.store.load_or_run`.
        compute_missing: False leaves out the runs not stored (unless recomputing) and prints
            the command that makes each: for models whose attacks take hours on a CPU.
    """
    cases: list[tuple[dict[str, Any], RunSpec]] = []
    results: dict[int, AttackResult] = {}
    missing: list[str] = []
    if recompute is None:
        recompute = pick_device(device).type == "cuda"
    for attack, config in attacks.items():
        for defence in defences:
            family, strength = describe_defence(defence)
            batch_size, gradient_defence = split_batch(defence)
            for image in images:
                spec = RunSpec(model, private_batch(image, batch_size), replace(config, seed=seed),
                               size, defence=gradient_defence)
                result = None if recompute else stored_result(spec, results_dir, quiet=True)
                if result is None and not (recompute or compute_missing):
                    missing.append(spec.command(spec.folder(results_dir)))
                    continue
                if result is not None:
                    results[len(cases)] = result
                cases.append(({"attack": attack, "defence": defence, "family": family,
                               "strength": strength, "image": image}, spec))
    todo = [index for index in range(len(cases)) if index not in results]
    stored, computed = len(results), len(todo)
    if recompute:
        for index in todo:
            results[index] = load_or_run(cases[index][1], results_dir, recompute=True,
                                         device=device, save=True, quiet=True)
    elif todo:  # many small attacks go much faster together than one at a time
        for index, result in zip(todo, run_many([cases[i][1] for i in todo], results_dir,
                                                device=device, log=lambda _: None)):
            results[index] = result
    rows = [{**case, **result_row(results[index])} for index, (case, _) in enumerate(cases)]
    _LOG.info("%s: %d stored runs loaded, %d computed, %d missing (%d attacks x %d defences x "
              "%d images)", model, stored, computed, len(missing), len(attacks), len(defences),
              len(images))
    if missing:
        _LOG.warning(missing_note(missing))
    return rows


def median_outcomes(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (attack, defence), in first-seen order (the summariser's groups): over the
    images, how many ``leaked`` (:func:`~dlg_helpers.measures.criteria.leaks`) with the 95 %
    interval of the rate, the medians of the best-recovered image's ``likeness`` and ``r2`` and
    of the report's ``mse``, ``psnr`` and ``ssim``, and the share whose label was recovered."""
    medians = []
    for summary in group_summary(rows, by=("attack", "defence")):
        attack, defence = summary["group"]
        family, strength = describe_defence(defence)
        medians.append({"attack": attack, "defence": defence, "family": family,
                        "strength": strength, "images": summary["runs"],
                        "leaked": summary["leaked"], "leaked_low": summary["leaked_low"],
                        "leaked_high": summary["leaked_high"],
                        "likeness": summary["likeness_median"], "r2": summary["best_r2_median"],
                        "mse": summary["best_mse_median"], "psnr": summary["best_psnr_median"],
                        "ssim": summary["best_ssim_median"],
                        "labels_right": summary["labels_right"] / summary["runs"]})
    return medians


def _worst(medians: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    """Each setting's worst case over the attacks (what its best attacker achieves): the highest
    share of images leaked, then the highest median likeness; settings in first-seen order."""
    worst: dict[str, tuple[float, float]] = {}
    for row in medians:
        score = (row["leaked"] / row["images"], row["likeness"])
        worst[row["defence"]] = max(worst.get(row["defence"], (-math.inf, -math.inf)), score)
    return worst


def _stops(score: tuple[float, float]) -> bool:
    return score[0] == 0


def compare_attacks(medians: Sequence[Mapping[str, Any]], first: str, second: str,
                    defended: Sequence[str]) -> list[dict[str, Any]]:
    """Two attacks side by side (rows of :func:`median_outcomes`): undefended, and pooled over
    the ``defended`` settings both were tried under, the attacks that leaked as a rate with its
    95 % interval (``first``, ``second``), and under how many of those settings ``second``
    recovers more than ``first`` (a higher median likeness; ``second_better``)."""
    by_key = {(m["attack"], m["defence"]): m for m in medians}
    rows = []
    for name, settings in ((NO_DEFENCE, [NO_DEFENCE]), ("defended", defended)):
        pairs = [(by_key[first, d], by_key[second, d]) for d in settings
                 if (first, d) in by_key and (second, d) in by_key]
        if not pairs:
            continue
        better = sum(b["likeness"] > a["likeness"] for a, b in pairs)
        rows.append({
            "settings": "none" if name == NO_DEFENCE else f"{len(pairs)} defended, pooled",
            "first": rate_text(sum(a["leaked"] for a, _ in pairs),
                               sum(a["images"] for a, _ in pairs), "attacks"),
            "second": rate_text(sum(b["leaked"] for _, b in pairs),
                                sum(b["images"] for _, b in pairs), "attacks"),
            "second_better": f"{better} of {len(pairs)} settings"})
    return rows


def better_count(medians: Sequence[Mapping[str, Any]], first: str, second: str,
                 defended: Sequence[str]) -> int:
    """Under how many of the ``defended`` settings ``second`` recovers more than ``first`` (a
    higher median likeness; rows of :func:`median_outcomes`, settings both were tried under)."""
    by_key = {(m["attack"], m["defence"]): m for m in medians}
    return sum(by_key[second, d]["likeness"] > by_key[first, d]["likeness"] for d in defended
               if (first, d) in by_key and (second, d) in by_key)


@dataclass(frozen=True)
class Stopped:
    """The defended settings under which no image leaked under any attack (in the order of
    :func:`median_outcomes`), and whether the undefended attacks leaked nothing either, when
    no setting had anything to stop (``trivial``)."""

    settings: tuple[str, ...]
    defended: int
    trivial: bool


def stopped_settings(medians: Sequence[Mapping[str, Any]]) -> Stopped:
    """Which defended settings let no image leak under any attack (rows of
    :func:`median_outcomes`, their order kept)."""
    worst = _worst(medians)
    defended = [d for d in worst if d != NO_DEFENCE]
    return Stopped(tuple(d for d in defended if _stops(worst[d])), len(defended),
                   NO_DEFENCE in worst and _stops(worst[NO_DEFENCE]))


def protection_ranking(medians: Sequence[Mapping[str, Any]],
                       costs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For each defence family, its weakest setting that stops every attack, and what it costs.

    A setting stops an attack when none of the images it was tried on leaks
    (:func:`~dlg_helpers.measures.criteria.leaks`); with a handful of images that is a small
    sample, and the rate's interval says how small. Settings are tried in the order they appear
    (list each family weakest first); DP-SGD only at an ε of at most :data:`MEANINGFUL_EPSILON`,
    and not at all when none of its settings is. Families that stop every attack are ranked by the accuracy
    they cost; the others follow, closest to stopping (fewest images leaked, then the lowest
    median likeness, at their strongest setting) first.

    Returns:
        Rows with the family, the setting (None when none stops every attack), the worst share
        leaked and median likeness over the attacks at that setting, the accuracy (the mean
        over the seeds; ``price`` holds the whole row of ``costs``), its drop from no defence,
        epsilon.
    """
    accuracy = {row["defence"]: row for row in costs}
    if NO_DEFENCE not in accuracy:
        raise ValueError("the costs need the undefended run ('none') to measure the drop against")
    baseline = accuracy[NO_DEFENCE]["accuracy"]
    worst = _worst(medians)
    families: dict[str, list[str]] = {}
    for row in medians:
        if row["defence"] == NO_DEFENCE:
            continue
        if row["defence"] not in families.setdefault(row["family"], []):
            families[row["family"]].append(row["defence"])
    ranking = []
    for family, settings in families.items():
        if kind_of(family) == GUARANTEE:  # ranked only where its ε promises something
            settings = [s for s in settings if accuracy.get(s) is not None
                        and accuracy[s]["epsilon"] is not None
                        and accuracy[s]["epsilon"] <= MEANINGFUL_EPSILON]
            if not settings:
                continue
        stopping = next((s for s in settings if _stops(worst[s])), None)
        shown = stopping if stopping is not None else settings[-1]
        cost = accuracy.get(shown)
        ranking.append({
            "family": family, "kind": kind_of(family), "setting": stopping,
            "strongest_tried": settings[-1],
            "worst_leaked": worst[shown][0], "worst_likeness": worst[shown][1],
            "accuracy": None if cost is None else cost["accuracy"], "price": cost,
            "accuracy_drop": None if cost is None else baseline - cost["accuracy"],
            "epsilon": None if cost is None else cost["epsilon"],
        })
    stopped = sorted((r for r in ranking if r["setting"] is not None),
                     key=lambda r: math.inf if r["accuracy_drop"] is None else r["accuracy_drop"])
    return stopped + sorted((r for r in ranking if r["setting"] is None),
                            key=lambda r: (r["worst_leaked"], r["worst_likeness"]))


@dataclass(frozen=True)
class RankingSummary:
    """What a :func:`protection_ranking` answers: of its ``families``, how many stop every attack
    at some setting (``stopping``); the cheapest that does (``best_*``: family, setting, mean
    accuracy and its drop from no defence, positive when lower), and the cheapest that changes
    the gradient itself rather than the batch (``gradient_*``). None where no family stops
    every attack."""

    families: int
    stopping: int
    best_family: str | None
    best_setting: str | None
    best_accuracy: float | None
    best_drop: float | None
    gradient_family: str | None
    gradient_setting: str | None
    gradient_accuracy: float | None


def ranking_summary(ranking: Sequence[Mapping[str, Any]]) -> RankingSummary:
    """The numbers of :class:`RankingSummary` from rows of :func:`protection_ranking`."""
    stopping = [r for r in ranking if r["setting"] is not None]
    best = stopping[0] if stopping else {}
    gradient = next((r for r in stopping if r["family"] != BATCH), {})
    return RankingSummary(len(ranking), len(stopping), best.get("family"), best.get("setting"),
                          best.get("accuracy"), best.get("accuracy_drop"),
                          gradient.get("family"), gradient.get("setting"),
                          gradient.get("accuracy"))


def gradient_changes(model: str, image: str, defences: Sequence[str],
                     seed: int = 0) -> list[dict[str, Any]]:
    """What each defence does to one shared gradient (``model`` with weights ``seed``, the
    private ``image``): its relative error, its cosine similarity to the plain gradient of the
    image alone, and the share of entries that are exactly zero. Under ``batch:B`` the shared
    gradient is the mean over the image's :func:`private_batch`."""
    def flat(gradients: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([g.flatten() for g in gradients])

    plain = flat(victim(model, image, seed).share().gradient)
    rows = []
    for defence in defences:
        batch_size, gradient_defence = split_batch(defence)
        client = victim(model, private_batch(image, batch_size) if batch_size > 1 else image,
                        seed, defence=None if gradient_defence is None
                        else parse_defence(gradient_defence))
        shared = flat(client.share().gradient)
        rows.append({"defence": defence,
                     "relative_error": float((shared - plain).norm() / plain.norm()),
                     "cosine": float(shared @ plain / (shared.norm() * plain.norm())),
                     "zeros": float((shared == 0).float().mean())})
    return rows


