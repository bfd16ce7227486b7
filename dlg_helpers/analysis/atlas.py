"""Success rates over a sweep's table: how often an attack leaks, with intervals, and which
images resist.

Every rate is the share of attacks that leak by the course's one definition
(:func:`~dlg_helpers.measures.criteria.leaks`, derived from the table's scores when it is read:
its ``leaks`` column), with its
Wilson interval over attacks. The attacks on one image under several weight seeds are not
independent draws (an image that resists tends to resist under every seed), so the base case
also gets an interval from a bootstrap over images, which keeps each image's attacks together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..attack.objective import total_variation
from ..client.images import load_image
from ..client.models import build_model, get_spec
from ..measures.intervals import median_interval, wilson
from .verdicts import Prevention, Verdict, factor_prevents

__all__ = ["rates", "image_bootstrap", "image_rate", "level_rates", "seed_rates", "resistance",
           "image_features", "RESISTANCE_GROUPS", "resistance_profile", "network_budget", "gradient_budget",
           "defence_leaks", "IDLG_PAPER_LABEL_ACCURACY", "seed_levels",
           "RestartAblation", "restart_ablation", "FactorEffect", "factor_effect",
           "FailedEndings", "failed_endings", "budget_rows", "BudgetOrder", "budget_order"]

IDLG_PAPER_LABEL_ACCURACY = {"DLG": {"MNIST": 0.899, "CIFAR-100": 0.833, "LFW": 0.791},
                             "iDLG": {"MNIST": 1.0, "CIFAR-100": 1.0, "LFW": 1.0}}
"""Table 1 of Zhao et al. (2020): the share of labels each attack recovered, by data set."""


def _rate(successes: int, trials: int) -> dict[str, float]:
    low, high = wilson(successes, trials)
    return {"rate": successes / trials, "low": low, "high": high}


def rates(frame: Any, by: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The leak rate and the label accuracy for each group of ``frame``'s rows.

    Returns:
        One dict per group (in order of first appearance): the group's values of ``by``, ``n``
        rows, ``leaked`` and its ``rate`` with Wilson ``low`` and ``high``, ``labels`` right
        with ``label_rate``, ``label_low``, ``label_high`` (when the table has a
        ``label_correct`` column), and the ``likeness`` median with its order-statistic interval
        (``likeness_low``, ``likeness_high``).
    """
    groups = [((), frame)] if not by else list(frame.groupby(list(by), sort=False))
    found = []
    for key, rows in groups:
        key = key if isinstance(key, tuple) else (key,)
        n, leaked = len(rows), int(rows["leaks"].sum())
        likeness = median_interval([float(v) for v in rows["likeness"]])
        labelled = {}
        if "label_correct" in rows:  # per attack; a table of images judged one by one has none
            labels = int(rows["label_correct"].sum())
            label = _rate(labels, n)
            labelled = {"labels": labels, "label_rate": label["rate"],
                        "label_low": label["low"], "label_high": label["high"]}
        found.append({**dict(zip(by, key)), "n": n, "leaked": leaked, **_rate(leaked, n),
                      **labelled, "likeness": likeness.median,
                      "likeness_low": likeness.low, "likeness_high": likeness.high})
    return found


def image_bootstrap(frame: Any, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A 95 % interval for the leak rate from a bootstrap over images: images are drawn with
    replacement, each with all its attacks, so the interval counts images, not attacks."""
    per_image = frame.groupby("images")["leaks"].agg(["sum", "count"]).to_numpy(float)
    generator = np.random.default_rng(seed)
    draws = generator.integers(0, len(per_image), size=(resamples, len(per_image)))
    shares = per_image[draws, 0].sum(1) / per_image[draws, 1].sum(1)
    low, high = np.quantile(shares, [0.025, 0.975])
    return float(low), float(high)


def image_rate(frame: Any, resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The share of private images that leak over ``frame``'s attacks, whatever their batch.

    An attack on a batch of B images identifies some of them (the table's ``identified``); the
    share is identified images over all images. When every attack holds one image the interval
    is Wilson's over images, as :func:`rates` gives. Images of one batch share an attack and
    are not independent, so for batches it is a bootstrap over attacks (each with its images),
    widened where needed to Wilson's interval for the same share with one draw per attack: a
    bootstrap cannot reach beyond what happened, and where no image or every image leaked it
    would say 0–0 %. The share of labels recovered is counted the same way.

    Returns:
        ``attacks``, ``images`` (the n of the rate), ``identified``, ``rate``, ``low``, ``high``,
        ``label_rate`` and the median ``likeness`` of each attack's best-recovered image, with
        ``likeness_low`` and ``likeness_high``.
    """
    images = frame["batch"].to_numpy(float)
    identified = frame["identified"].to_numpy(float)
    labels = frame["labels_recovered"].to_numpy(float)
    total, found = int(images.sum()), int(identified.sum())
    if (images == 1).all():
        low, high = wilson(found, total)
    else:
        draws = np.random.default_rng(seed).integers(0, len(images), size=(resamples, len(images)))
        shares = identified[draws].sum(1) / images[draws].sum(1)
        low, high = (float(q) for q in np.quantile(shares, [0.025, 0.975]))
        attacks = len(images)  # one draw per attack: the share, in attacks' worth of images
        by_attack = wilson(round(found / total * attacks), attacks)
        low, high = min(low, by_attack[0]), max(high, by_attack[1])
    likeness = median_interval([float(v) for v in frame["likeness"]])
    return {"attacks": len(frame), "images": total, "identified": found, "rate": found / total,
            "low": low, "high": high, "label_rate": float(labels.sum() / total),
            "likeness": likeness.median, "likeness_low": likeness.low,
            "likeness_high": likeness.high}


def level_rates(levels: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    """:func:`image_rate` for each ``(label, frame)`` of a factor's levels, each row with its
    ``label`` and ``n`` (its images), in the order given: what the factor tables and figures
    show."""
    found = []
    for label, frame in levels:
        rate = image_rate(frame)
        found.append({"label": label, "n": rate["images"], **rate})
    return found


def seed_rates(levels: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Each level's share of images leaked under each seed apart, for the levels measured under
    two seeds or more.

    A seed sets both the network's weights and the attack's random start, so the attacks of a
    seed share one network. Per level: ``seeds``, one row per seed (``seed``, ``found`` of
    ``total`` images, its 95 % Wilson interval ``low``-``high``); ``apart``, whether the seeds'
    intervals do not overlap; and an interval that counts networks, not attacks
    (``networks_low``-``networks_high``): from the lowest seed's low end to the highest seed's
    high end, since a handful of networks cannot pin the rate closer than they disagree.
    """
    rows = []
    for label, frame in levels:
        seeds = []
        for seed, group in frame.groupby("seed"):
            found, total = int(group["identified"].sum()), int(group["batch"].sum())
            low, high = wilson(found, total)
            seeds.append({"seed": int(seed), "found": found, "total": total, "low": low,
                          "high": high})
        if len(seeds) < 2:
            continue
        rows.append({"level": label, "seeds": seeds,
                     "apart": max(s["low"] for s in seeds) > min(s["high"] for s in seeds),
                     "networks_low": min(s["low"] for s in seeds),
                     "networks_high": max(s["high"] for s in seeds)})
    return rows


def resistance(frame: Any) -> Any:
    """Per image: its source, attacks, leaks, leak share and median likeness, the most
    resistant first."""
    grouped = frame.groupby(["images", "sources"], as_index=False).agg(
        attacks=("leaks", "size"), leaked=("leaks", "sum"), likeness=("likeness", "median"))
    grouped["share"] = grouped["leaked"] / grouped["attacks"]
    return grouped.sort_values(["share", "likeness"], ignore_index=True)


def image_features(names: Sequence[str], size: int = 32) -> list[dict[str, float]]:
    """What might make an image resist, measured on the private image itself: its
    ``contrast`` (pixel standard deviation), its ``edges`` (mean absolute difference of
    neighbouring pixels) and ``colour`` (the spread between its channels)."""
    found = []
    for name in names:
        pixels = torch.cat([load_image(part, size).pixels for part in name.split("+")])
        found.append({"images": name, "contrast": float(pixels.std()),
                      "edges": float(total_variation(pixels)),
                      "colour": float(pixels.std(dim=1).mean())})
    return found


RESISTANCE_GROUPS = ("resists every time", "depends on the weights", "leaks every time")
"""How an image fares over its weight seeds: never leaks, sometimes, always."""


def resistance_profile(frame: Any, size: int = 32) -> list[dict[str, Any]]:
    """The images of ``frame`` grouped by how they fare over their seeds
    (:data:`RESISTANCE_GROUPS`), each group with its number of images, the share of each
    source, and the median of each :func:`image_features` measure."""
    table = resistance(frame)
    features = {f["images"]: f for f in image_features(list(table["images"]), size)}
    group = np.where(table["share"] == 0, 0, np.where(table["share"] == 1, 2, 1))
    profile = []
    for index, name in enumerate(RESISTANCE_GROUPS):
        members = table[group == index]
        if not len(members):
            continue
        measured = [features[image] for image in members["images"]]
        profile.append({
            "group": name, "images": len(members),
            **{f"share_{source}": float((members["sources"] == source).mean())
               for source in ("photo", "face", "digit")},
            **{key: float(np.median([m[key] for m in measured]))
               for key in ("contrast", "edges", "colour")}})
    return profile


def network_budget(network: torch.nn.Module, image_shape: Sequence[int]) -> dict[str, Any]:
    """:func:`gradient_budget` for any ``network`` with a linear classifier last, on images of
    ``image_shape`` (batch first): ``features`` (every gradient entry of the layers before the
    classifier, counted once), ``classifier`` (its input width per image, all its outer products
    can give away), ``unknowns`` (the images' values) and their ``ratio``."""
    linear = [m for m in network.modules() if isinstance(m, torch.nn.Linear)]
    if not linear:
        raise ValueError("the count needs a network whose classifier is an nn.Linear layer")
    classifier = linear[-1]
    head = sum(p.numel() for p in classifier.parameters())
    features = sum(p.numel() for p in network.parameters()) - head
    batch, unknowns = image_shape[0], math.prod(image_shape)
    carried = features + batch * classifier.in_features
    return {"features": features, "classifier": batch * classifier.in_features,
            "unknowns": unknowns, "ratio": carried / unknowns}


def gradient_budget(model: str, size: int, batch: int = 1) -> dict[str, Any]:
    """What one shared gradient can tell about a batch, counted: the numbers it carries about
    the images against the numbers the attack must find.

    The layers before the classifier share one gradient whatever the batch (``features``
    entries in all: counted once); the classifier's gradient is a sum of one outer product per
    image, which gives away at most each image's input to it (``batch`` times its width,
    ``classifier``). Against them stand the ``unknowns``: every pixel of every image. A
    ``ratio`` below 1 means fewer equations than unknowns: many batches fit the gradient
    equally well, and the gradient alone cannot tell which was the private one (a prior about
    what images look like still can). The count is an upper
    bound (the equations are not all independent), in the spirit of Zhu and Blaschko's rank
    analysis (R-GAP). :func:`network_budget` counts the same for any network.
    """
    network = build_model(model, size=size)
    channels = next(m for m in network.modules() if isinstance(m, torch.nn.Conv2d)).in_channels
    return {"model": get_spec(model).display, "size": size, "batch": batch,
            **network_budget(network, (batch, channels, size, size))}


def defence_leaks(frame: Any, defence: str) -> dict[str, Any]:
    """:func:`rates` of the attacks of a sweep's table (``frame``, with its ``defence`` column)
    made under ``defence`` (its text, e.g. ``"gaussian:0.01"``): ``n``, ``leaked``, ``rate``
    with its Wilson ``low`` and ``high``, and the rest.

    Raises:
        ValueError: when the table holds no attack under that defence.
    """
    rows = frame[frame["defence"] == defence]
    if not len(rows):
        raise ValueError(f"the table holds no attack under {defence!r}; it has "
                         f"{', '.join(sorted(map(str, frame['defence'].unique())))}")
    return rates(rows)[0]


def seed_levels(tables: Mapping[str, Any]) -> list[dict[str, Any]]:
    """:func:`seed_rates` for every level of every attack and factor of the atlas measured under
    two seeds or more, each row with its ``attack`` (display name) and ``factor``. A baseline
    that several factors share (the same rows of the base table) counts once."""
    from ..attack.registry import attack_entry
    from ..runs.atlas_plan import ATLAS_ATTACKS, FACTORS, level_label

    rows, seen = [], set()
    for attack in ATLAS_ATTACKS:
        for factor in FACTORS:
            for label, frame in _labelled(tables, attack, factor):
                if label == level_label(factor, FACTORS[factor]):
                    if (attack, frozenset(frame.index)) in seen:
                        continue
                    seen.add((attack, frozenset(frame.index)))
                rows += [{"attack": attack_entry(attack).display, "factor": factor, **row}
                         for row in seed_rates([(label, frame)])]
    return rows


def _labelled(tables: Mapping[str, Any], attack: str, factor: str) -> list[tuple[str, Any]]:
    from ..runs.atlas_plan import labelled_levels

    return labelled_levels(dict(tables), attack, factor)


@dataclass(frozen=True)
class RestartAblation:
    """DLG from one random start against DLG with its preset's restarts, on the same images and
    seeds: each one's ``(labels right, leaked, attacks)``; the single starts that diverged or
    stalled far from a match (``unconverged``); its ``wrong`` labels, and how many of them came
    from those starts; whether the leak shares' and the label shares' 95 % Wilson intervals lie
    apart. The verdict is on "DLG has convergence problems": DOES_NOT_HOLD when every single
    start converged, PARTLY when they failed but the restarts leak measurably more (an attacker
    removes the problem), HOLDS when the restarts do not help."""

    one: tuple[int, int, int]
    restarts: tuple[int, int, int]
    unconverged: int
    wrong: int
    wrong_unconverged: int
    leaks_apart: bool
    labels_apart: bool
    verdict: Verdict


def restart_ablation(tables: Mapping[str, Any]) -> RestartAblation | None:
    """:class:`RestartAblation` from the atlas's DLG restarts sweep (None until it is stored)."""
    from ..runs.atlas_plan import FACTORS, factor_levels

    levels = dict(factor_levels(dict(tables), "dlg", "restarts"))
    if FACTORS["restarts"] not in levels or "0" not in levels:
        return None
    one, preset = levels["0"], levels[FACTORS["restarts"]]
    counts = [(int(rows["label_correct"].sum()), int(rows["leaks"].sum()), len(rows))
              for rows in (one, preset)]
    unconverged = one["status"].isin(["diverged", "stalled"])
    wrong = ~one["label_correct"].astype(bool)
    leaks_apart = wilson(*counts[0][1:])[1] < wilson(*counts[1][1:])[0]
    labels_apart = wilson(counts[0][0], counts[0][2])[1] < wilson(counts[1][0], counts[1][2])[0]
    verdict = (Verdict.DOES_NOT_HOLD if not unconverged.any() else
               Verdict.PARTLY if leaks_apart else Verdict.HOLDS)
    return RestartAblation(counts[0], counts[1], int(unconverged.sum()), int(wrong.sum()),
                           int((wrong & unconverged).sum()), leaks_apart, labels_apart, verdict)


@dataclass(frozen=True)
class FactorEffect:
    """One factor's level against its baseline for one attack: both :func:`image_rate` rows
    (with their ``label``) and whether the level prevents leakage
    (:func:`~dlg_helpers.analysis.verdicts.factor_prevents`)."""

    baseline: Mapping[str, Any]
    level: Mapping[str, Any]
    prevention: Prevention


def factor_effect(tables: Mapping[str, Any], attack: str, factor: str,
                  level: str | None = None) -> FactorEffect | None:
    """:class:`FactorEffect` of the level labelled ``level`` (default: the factor's last,
    e.g. the largest batch) of ``attack`` (registry key); None when it is not stored."""
    from ..runs.atlas_plan import FACTORS, level_label

    rows = level_rates(_labelled(tables, attack, factor))
    baseline = next((r for r in rows if r["label"] == level_label(factor, FACTORS[factor])), None)
    chosen = [r for r in rows if r["label"] == level] if level else rows[-1:]
    if baseline is None or not chosen or chosen[0] is baseline:
        return None
    return FactorEffect(baseline, chosen[0], factor_prevents(baseline, chosen[0]))


@dataclass(frozen=True)
class FailedEndings:
    """How the attacks that leaked no image at a batch above one or a side above the base's
    ended, by the engine's status: came to rest with the gradient matched (``plateaued``),
    stalled far from a match on every start, ran out of ``budget`` steps, diverged."""

    attacks: int
    plateaued: int
    stalled: int
    budget: int
    diverged: int


def failed_endings(tables: Mapping[str, Any], attack: str = "dlg") -> FailedEndings | None:
    """:class:`FailedEndings` of ``attack`` (registry key); None when nothing failed or the
    levels are not stored."""
    import pandas as pd

    from ..runs.atlas_plan import factor_levels

    base_side = get_spec("lenet").image_size
    frames = [rows for factor in ("batch", "resolution")
              for level, rows in factor_levels(dict(tables), attack, factor)
              if int(level) > (1 if factor == "batch" else base_side)]
    failed = pd.concat(frames) if frames else None
    if failed is None or not (~failed["leaks"]).any():
        return None
    counts = failed[~failed["leaks"]]["status"].value_counts()
    return FailedEndings(int((~failed["leaks"]).sum()),
                         *(int(counts.get(s, 0)) for s in ("plateaued", "stalled", "budget",
                                                            "diverged")))


def budget_rows(tables: Mapping[str, Any], model: str = "lenet") -> list[dict[str, Any]]:
    """Each image side and batch size stored for any attack, with its :func:`gradient_budget`
    and, under ``rates``, each measured attack's share of images leaked (:func:`image_rate`
    rows by the attack's display name), the ratio falling."""
    from ..attack.registry import attack_entry
    from ..runs.atlas_plan import ATLAS_ATTACKS, factor_levels, level_label

    base_side = get_spec(model).image_size
    settings: dict[tuple[int, int], dict[str, Any]] = {}
    for attack in ATLAS_ATTACKS:
        for factor in ("resolution", "batch"):
            levels = factor_levels(dict(tables), attack, factor)
            labelled = [(level_label(factor, level), frame) for level, frame in levels]
            for (level, _), rate in zip(levels, level_rates(labelled)):
                side, batch = ((int(level), 1) if factor == "resolution"
                               else (base_side, int(level)))
                if factor == "batch" and batch == 1:
                    continue  # the resolution factor's base-side level is the same case
                side_label = level_label("resolution", str(side))
                row = settings.setdefault((side, batch), {
                    **gradient_budget(model, side, batch), "rates": {},
                    "label": f"{'one image' if batch == 1 else rate['label']}, {side_label}"})
                row["rates"][attack_entry(attack).display] = rate
    return sorted(settings.values(), key=lambda row: -row["ratio"])


@dataclass(frozen=True)
class BudgetOrder:
    """Whether the ratio of :func:`gradient_budget` orders the outcomes of the attacks that use
    the gradient alone (no image prior): at each setting the best of them leaks more than half
    the images or fewer. ``lowest_leaking`` is the lowest ratio at which more than half leaked,
    ``highest_resisting`` the highest at which fewer did; HOLDS when the first lies above the
    second. ``below_one`` counts ``(identified, images)`` per attack over the settings whose
    ratio is below 1, and ``prior_best`` is, per attack with a prior, its best such setting's
    :func:`image_rate` row with the setting's ``setting`` label and ``ratio``."""

    lowest_leaking: float | None
    highest_resisting: float | None
    below_one: Mapping[str, tuple[int, int]]
    prior_best: Mapping[str, Mapping[str, Any]]
    verdict: Verdict


def budget_order(rows: Sequence[Mapping[str, Any]],
                 prior: frozenset[str] | None = None) -> BudgetOrder:
    """:class:`BudgetOrder` over :func:`budget_rows`; ``prior`` names the attacks with an image
    prior (default: the atlas's attacks whose preset weighs total variation)."""
    if prior is None:
        from ..attack.registry import attack_entry
        from ..runs.atlas_plan import ATLAS_ATTACKS

        prior = frozenset(attack_entry(a).display for a in ATLAS_ATTACKS
                          if attack_entry(a).config().tv_weight)
    blind = {name for row in rows for name in row["rates"]} - prior
    best = [(row["ratio"], max(row["rates"][n]["rate"] for n in blind if n in row["rates"]))
            for row in rows if set(row["rates"]) & blind]
    leaking = [ratio for ratio, rate in best if rate >= 0.5]
    resisting = [ratio for ratio, rate in best if rate < 0.5]
    verdict = (Verdict.NOT_MEASURED if not leaking or not resisting else
               Verdict.HOLDS if min(leaking) > max(resisting) else Verdict.DOES_NOT_HOLD)
    below: dict[str, tuple[int, int]] = {}
    prior_best: dict[str, Mapping[str, Any]] = {}
    for row in (r for r in rows if r["ratio"] < 1):
        for name, rate in row["rates"].items():
            found, total = below.get(name, (0, 0))
            below[name] = (found + rate["identified"], total + rate["images"])
            if name in prior and rate["rate"] >= prior_best.get(name, {"rate": -1})["rate"]:
                prior_best[name] = {**rate, "setting": row["label"], "ratio": row["ratio"]}
    return BudgetOrder(min(leaking, default=None), max(resisting, default=None), below,
                       prior_best, verdict)
