"""What the success-rate atlas says, as the sentences and claims its chapter glues in.

Every number comes with its count and 95 % interval, and every verdict is decided here from the
stored tables (:func:`~dlg_helpers.runs.atlas.load_atlas`), so the prose changes when the tables
do. A table not stored yet simply has no sentence: the chapter shows what is measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..attack.registry import attack_entry
from ..client.models import get_spec
from ..runs.atlas import (ATLAS_ATTACKS, BASE_IMAGES, BASE_SEEDS, FACTOR_IMAGES, FACTOR_SEEDS,
                          FACTORS, TRAINED_STEPS, factor_levels, labelled_levels,
                          level_label)
from ..runs.sweep import SHARD_SIZE
from .atlas import (RESISTANCE_GROUPS, gradient_budget, image_bootstrap, level_rates, rates,
                    resistance_profile)
from .criteria import LEAK_FLOOR
from .gallery import gallery_size
from .intervals import median_text, rate_text, share_text, wilson
from .verdicts import (DOES_NOT_HOLD, HOLDS, PREVENTED_SHARE, Claim, factor_prevents,
                       labels_inefficient)

__all__ = ["TAGS", "IDLG_PAPER_LABEL_ACCURACY", "REPORT_CONVERGENCE", "REPORT_LABELS",
           "REPORT_FUTURE_BATCH", "REPORT_FUTURE_RESOLUTION", "settings_findings",
           "base_findings", "restart_findings", "resistance_findings", "level_text",
           "factor_findings", "seed_findings", "budget_rows", "budget_findings",
           "endings_findings", "protection_findings", "atlas_claims"]

TAGS = {"dlg": "dlg", "idlg": "idlg", "inverting-gradients": "ig"}
"""Each attack's short name in glue keys (``dlg_base``, ``ig_labels``, ...)."""

REPORT_CONVERGENCE = "Deep Learning from Gradients has convergence related problems"
REPORT_LABELS = "… and is inefficient in finding discovering ground-truth labels repeatedly"
REPORT_FUTURE_BATCH = ("Future researchers may undertake studies on preventing leakages by "
                       "increasing the batch size")
REPORT_FUTURE_RESOLUTION = "... and resolution of the input images"

IDLG_PAPER_LABEL_ACCURACY = {"DLG": {"MNIST": 0.899, "CIFAR-100": 0.833, "LFW": 0.791},
                             "iDLG": {"MNIST": 1.0, "CIFAR-100": 1.0, "LFW": 1.0}}
"""Table 1 of Zhao et al. (2020): the share of labels each attack recovered, by data set."""

_PAPER_DLG_LABELS = (min(IDLG_PAPER_LABEL_ACCURACY["DLG"].values()),
                     max(IDLG_PAPER_LABEL_ACCURACY["DLG"].values()))


def settings_findings() -> dict[str, str]:
    """The settings the chapter's prose names, from the one place that decides each: the
    atlas's plan (images and seeds), the attacks' presets (steps, starts), the definition of a
    leak (gallery, the least likeness that counts), the sweep's shards and LeNet's convolutions."""
    dlg, ig = attack_entry("dlg").config(), attack_entry("inverting-gradients").config()
    lenet = gradient_budget("lenet", get_spec("lenet").image_size)
    return {"base_images": f"{BASE_IMAGES:,}", "base_seeds": str(len(BASE_SEEDS)),
            "base_attacks": f"{BASE_IMAGES * len(BASE_SEEDS):,}",
            "factor_images": str(FACTOR_IMAGES), "factor_seeds": str(len(FACTOR_SEEDS)),
            "trained_steps": str(TRAINED_STEPS),
            "dlg_steps": f"{dlg.steps:,}", "dlg_restart_count": str(dlg.restarts),
            "ig_steps": f"{ig.steps:,}", "ig_trials": str(ig.trials),
            "gallery_size": f"{gallery_size():,}",
            "leak_floor": f"{LEAK_FLOOR:g}",
            "shard_size": str(SHARD_SIZE), "conv_weights": f"{lenet['features']:,}",
            "paper_dlg_labels": _paper_dlg_labels(),
            "prevented_share": f"{100 * PREVENTED_SHARE:.0f} %"}


def _paper_dlg_labels() -> str:
    return f"{100 * _PAPER_DLG_LABELS[0]:.0f}–{100 * _PAPER_DLG_LABELS[1]:.0f} %"


def _stored_bases(tables: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(attack, tag, base table)`` for each attack whose base case is stored."""
    return [(attack, TAGS[attack], tables[f"{attack}-base"]) for attack in ATLAS_ATTACKS
            if f"{attack}-base" in tables]


def base_findings(tables: Mapping[str, Any]) -> dict[str, str]:
    """Each attack's base case in words: ``<tag>_base`` (attacks that leaked, Wilson interval),
    ``<tag>_images`` (the interval from the bootstrap over images), ``<tag>_labels`` and
    ``<tag>_likeness``; ``label_paper``, how DLG's labels compare with the iDLG paper's;
    ``ig_versus_dlg``, whether inverting gradients leaked measurably less or more often than
    DLG; and ``base_summary``, how often DLG leaked, in a phrase."""
    found = {}
    overall = {}
    for attack, tag, table in _stored_bases(tables):
        (overall[attack],) = rates(table)
        low, high = image_bootstrap(table)
        found[f"{tag}_base"] = rate_text(overall[attack]["leaked"], overall[attack]["n"],
                                         "attacks")
        found[f"{tag}_images"] = (f"{100 * low:.0f}–{100 * high:.0f} % over "
                                  f"{table['images'].nunique()} images")
        found[f"{tag}_labels"] = rate_text(overall[attack]["labels"], overall[attack]["n"],
                                           "labels")
        found[f"{tag}_likeness"] = median_text(list(table["likeness"]), "{:.3f}".format)
    dlg, ig = overall.get("dlg"), overall.get("inverting-gradients")
    if dlg is not None:
        paper = _paper_dlg_labels()
        found["label_paper"] = (
            f"above the {paper} the iDLG paper reports for DLG"
            if dlg["label_low"] > _PAPER_DLG_LABELS[1] else
            f"within the {paper} the iDLG paper reports for DLG"
            if dlg["label_rate"] >= _PAPER_DLG_LABELS[0] else
            f"below the {paper} the iDLG paper reports for DLG")
        found["base_summary"] = ("The base case leaks almost always" if dlg["rate"] >= 0.9 else
                                 "The base case leaks more often than not"
                                 if dlg["rate"] >= 0.5 else "The base case mostly resists")
    if dlg is not None and ig is not None:
        found["ig_versus_dlg"] = ("less often than DLG" if ig["high"] < dlg["low"] else
                                  "more often than DLG" if ig["low"] > dlg["high"] else
                                  "about as often as DLG (the intervals overlap)")
    return found


def restart_findings(tables: Mapping[str, Any]) -> dict[str, str]:
    """DLG with one random start against its preset's restarts, on the same images and seeds:
    ``restarts_one_labels``, ``restarts_one_leaks``, ``restarts_preset_labels``,
    ``restarts_preset_leaks``, ``restarts_one_failed`` (single starts that did not converge),
    ``restarts_wrong_labels`` (how many wrong labels came from them) and ``restarts_verdict``,
    whether the restarts explain DLG's labels (the label shares' intervals apart). Empty until
    the ablation is stored."""
    levels = dict(factor_levels(dict(tables), "dlg", "restarts"))
    preset, one = levels.get(FACTORS["restarts"]), levels.get("0")
    if preset is None or one is None:
        return {}
    found = {}
    counts = {}
    for name, rows in (("one", one), ("preset", preset)):
        labels, leaked, n = int(rows["label_correct"].sum()), int(rows["leaks"].sum()), len(rows)
        counts[name] = (labels, n)
        found[f"restarts_{name}_labels"] = rate_text(labels, n, "labels")
        found[f"restarts_{name}_leaks"] = rate_text(leaked, n, "attacks")
    unconverged = one["status"].isin(["diverged", "stalled"])
    wrong = ~one["label_correct"].astype(bool)
    found["restarts_one_failed"] = (f"{int(unconverged.sum())} of {len(one)} single starts "
                                    "diverged or stalled far from a match")
    found["restarts_wrong_labels"] = (
        f"{int((wrong & unconverged).sum())} of its {int(wrong.sum())} wrong labels came from "
        "those starts" if wrong.any() else "none of its labels was wrong")
    one_high = wilson(*counts["one"])[1]
    preset_low = wilson(*counts["preset"])[0]
    found["restarts_verdict"] = (
        "The restarts explain it: a single start finds the label measurably less often, and "
        "an attacker who restarts whenever the gradient distance stalls keeps the start that "
        "found it" if one_high < preset_low else
        "The restarts do not explain it: a single start found the label about as often")
    return found


def resistance_findings(tables: Mapping[str, Any], size: int = 32) -> dict[str, str]:
    """Which images resist each attack over all their seeds: ``<tag>_resisting`` (how many,
    of which sources, and their names) and ``<tag>_resisting_contrast`` (their median contrast
    against that of the images that leak every time)."""
    found = {}
    for _, tag, table in _stored_bases(tables):
        profile = {row["group"]: row for row in resistance_profile(table, size)}
        never = profile.get(RESISTANCE_GROUPS[0])
        always = profile.get(RESISTANCE_GROUPS[2])
        images = table["images"].nunique()
        seeds = table["seed"].nunique()
        if never is None:
            found[f"{tag}_resisting"] = f"none of the {images} images resisted all {seeds} seeds"
            continue
        names = sorted(set(table.groupby("images")["leaks"].sum().loc[lambda s: s == 0].index))
        found[f"{tag}_resisting"] = (f"{never['images']} of the {images} images resisted all "
                                     f"{seeds} seeds ({', '.join(names)})")
        if always is not None:
            found[f"{tag}_resisting_contrast"] = (
                f"a median contrast of {never['contrast']:.3f} against {always['contrast']:.3f} "
                "for the images that leaked under every seed")
    return found


def level_text(rows: list[dict[str, Any]]) -> str:
    """Levels of a factor in prose: ``"one image: 98 of 100 images (98 %, 95 % CI 93–99 %);
    batch of 2: ..."``."""
    return "; ".join(f"{row['label']}: " + share_text(row["identified"], row["images"],
                                                      row["low"], row["high"], "images")
                     for row in rows)


def factor_findings(tables: Mapping[str, Any]) -> dict[str, str]:
    """Every stored factor of every attack in words, ``<tag>_<factor>``, each level's share of
    private images that leaked with its interval and n; ``<factor>_by_attack``, every attack
    measured on that factor in one sentence; and ``factor_scope``, which attacks the factor
    sweeps cover so far."""
    found = {}
    measured: dict[str, list[str]] = {attack: [] for attack in ATLAS_ATTACKS}
    for factor in FACTORS:
        said = []
        for attack in ATLAS_ATTACKS:
            levels = labelled_levels(dict(tables), attack, factor)
            if levels:
                text = level_text(level_rates(levels))
                found[f"{TAGS[attack]}_{factor}"] = text
                said.append(f"{_sentence_start(attack_entry(attack).display)}: {text}")
                measured[attack].append(factor)
        if said:
            found[f"{factor}_by_attack"] = ". ".join(said)
    found["factor_scope"] = _scope(measured)
    return found


def seed_findings(tables: Mapping[str, Any]) -> dict[str, str]:
    """``seed_spread``: whether the seeds of a factor level agree.

    A sweep's seed sets both the network's weights and the attack's random start, so a level's
    attacks share a few networks and starting points, and its interval (:func:`level_rates`)
    counts attacks as independent draws, not seeds. This counts the levels of every attack and
    factor at which two seeds' shares of images leaked lie apart (their 95 % Wilson intervals
    over images do not overlap), a baseline that several factors share once, and names the
    widest gap.
    """
    apart, levels, widest = 0, 0, None
    baselines: set[tuple[str, frozenset[Any]]] = set()  # shared by factors: each counts once
    for factor in FACTORS:
        for attack in ATLAS_ATTACKS:
            for label, frame in labelled_levels(dict(tables), attack, factor):
                if label == level_label(factor, FACTORS[factor]):
                    baseline = (attack, frozenset(frame.index))  # rows of the base table
                    if baseline in baselines:
                        continue
                    baselines.add(baseline)
                counts = [(int(rows["identified"].sum()), int(rows["batch"].sum()), seed)
                          for seed, rows in frame.groupby("seed")]
                if len(counts) < 2:
                    continue
                levels += 1
                bounds = [wilson(found, total) for found, total, _ in counts]
                apart += max(low for low, _ in bounds) > min(high for _, high in bounds)
                shares = sorted(counts, key=lambda c: c[0] / c[1])
                gap = shares[-1][0] / shares[-1][1] - shares[0][0] / shares[0][1]
                if widest is None or gap > widest[0]:
                    widest = (gap, attack, label, shares[-1], shares[0])
    if widest is None:
        return {}
    _, attack, label, high, low = widest
    return {"seed_spread": (
        f"at {apart} of the {levels} levels measured the two seeds' shares lie apart (their "
        f"95 % Wilson intervals do not overlap); the widest gap is "
        f"{attack_entry(attack).display} at {label}, where {high[0]} of {high[1]} images leaked "
        f"under seed {high[2]} and {low[0]} of {low[1]} under seed {low[2]}")}


_FACTOR_NAMES = {"batch": "the batch size", "training": "training", "resolution": "the image side",
                 "defences": "the defences"}
"""The factors every attack is planned on (DLG's restarts are an ablation of DLG alone)."""


def _scope(measured: Mapping[str, list[str]]) -> str:
    """Which attacks the stored factor sweeps cover, on which factors."""
    covered = {attack: [f for f in _FACTOR_NAMES if f in factors]
               for attack, factors in measured.items()}
    if all(len(factors) == len(_FACTOR_NAMES) for factors in covered.values()):
        return "Every factor is measured for each of the atlas's attacks"
    parts = [f"{attack_entry(attack).display} on " + (
        "every factor" if len(factors) == len(_FACTOR_NAMES)
        else _joined([_FACTOR_NAMES[f] for f in factors]))
        for attack, factors in covered.items() if factors]
    if not parts:
        return "No factor sweep is stored"
    return (f"The factor sweeps stored so far measure {_joined(parts)}; the rest of the "
            "atlas's plan is for the atlas command to run")


def _sentence_start(name: str) -> str:
    """``name`` as the first word of a sentence: a lower-case word capitalised ("Inverting
    gradients"), a name with capitals inside kept as it is ("iDLG")."""
    first = name.split()[0]
    return name if first != first.lower() else name[0].upper() + name[1:]


def _joined(names: list[str]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def budget_rows(tables: Mapping[str, Any], model: str = "lenet") -> list[dict[str, Any]]:
    """Each image side and batch size stored for any attack, with its
    :func:`~dlg_helpers.analysis.atlas.gradient_budget` and, under ``rates``, each measured
    attack's share of images leaked (:func:`~dlg_helpers.analysis.atlas.image_rate` rows by
    the attack's name), the ratio falling."""
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
                row = settings.setdefault((side, batch), {
                    **gradient_budget(model, side, batch), "rates": {},
                    "label": (f"one image, {level_label('resolution', str(side))}"
                              if batch == 1 else
                              f"{rate['label']}, {level_label('resolution', str(side))}")})
                row["rates"][attack_entry(attack).display] = rate
    return sorted(settings.values(), key=lambda row: -row["ratio"])


def _with_prior() -> set[str]:
    """The display names of the atlas's attacks that add an image prior to the matching."""
    return {attack_entry(a).display for a in ATLAS_ATTACKS if attack_entry(a).config().tv_weight}


def budget_findings(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Whether the count of equations against unknowns orders the rates.

    The count is about the gradient alone, so it is judged on the attacks that use nothing
    else (no image prior): ``budget_verdict`` says where the share leaked to the best of them
    falls below half, in terms of the ratio; ``prior_verdict``, the most an attack with a prior
    identified at one setting where the ratio is below 1; ``below_one``, how many images each
    attack identified there in all.
    """
    if len(rows) < 2:
        return {}
    prior = _with_prior()
    blind = sorted({name for row in rows for name in row["rates"]} - prior)
    best = [(row["ratio"], max(row["rates"][name]["rate"] for name in blind
                               if name in row["rates"]))
            for row in rows if set(row["rates"]) & set(blind)]
    if not best:
        return {}
    leaking = [ratio for ratio, rate in best if rate >= 0.5]
    resisting = [ratio for ratio, rate in best if rate < 0.5]
    who = f"for {_joined(blind)}, which use the gradient alone"
    if not resisting:
        verdict = (f"{who}, more than half the images leaked at every setting measured, down "
                   f"to a ratio of {min(leaking):.2f}")
    elif not leaking:
        verdict = f"{who}, fewer than half the images leaked at every setting measured"
    elif min(leaking) > max(resisting):
        verdict = (f"{who}, the ratio orders the outcomes: more than half the images leaked "
                   f"wherever it was {min(leaking):.2f} or more, fewer than half wherever it was "
                   f"{max(resisting):.2f} or less")
    else:
        verdict = (f"{who}, the ratio alone does not order the outcomes: fewer than half "
                   f"leaked at a ratio of {max(resisting):.2f}, more than half at "
                   f"{min(leaking):.2f}")
    said = {"budget_verdict": verdict}
    below: dict[str, tuple[int, int]] = {}
    best_below: dict[str, tuple[float, str]] = {}  # a prior attack's highest rate below 1
    for row in rows:
        if row["ratio"] < 1:
            for attack, rate in row["rates"].items():
                found, total = below.get(attack, (0, 0))
                below[attack] = (found + rate["identified"], total + rate["images"])
                if attack in prior and rate["rate"] >= best_below.get(attack, (-1.0, ""))[0]:
                    best_below[attack] = (rate["rate"], (
                        f"{rate['identified']:,} of {rate['images']:,} images where the ratio "
                        f"was {row['ratio']:.2f} ({row['label']})"))
    if below:
        said["below_one"] = _joined([f"{attack} identified {found:,} of {total:,} images"
                                     for attack, (found, total) in below.items()])
    if best_below:
        said["prior_verdict"] = "; ".join(
            f"{_sentence_start(name)}, with its prior, identified as many as {text}"
            for name, (_, text) in sorted(best_below.items()))
    return said


def endings_findings(tables: Mapping[str, Any], attack: str = "dlg") -> dict[str, str]:
    """How the attacks of ``attack`` ended that leaked nothing at a batch above one image or a
    side above the base's: ``failed_endings`` counts each ending (the engine's statuses), and
    ``endings_verdict`` says whether running out of steps, rather than the optimiser coming to
    rest, is what stopped most of them."""
    import pandas as pd

    base_side = get_spec("lenet").image_size
    frames = [rows for factor in ("batch", "resolution")
              for level, rows in factor_levels(dict(tables), attack, factor)
              if (factor == "batch" and int(level) > 1)
              or (factor == "resolution" and int(level) > base_side)]
    if not frames:
        return {}
    failed = pd.concat(frames)
    failed = failed[~failed["leaks"]]
    if failed.empty:
        return {}
    counts = failed["status"].value_counts()
    config = attack_entry(attack).config()
    n = len(failed)
    found = {"failed_endings": (
        f"of {config.name}'s {n} attacks on the larger batches and images that leaked no "
        "image, "
        f"{counts.get('plateaued', 0)} came to rest with the gradient distance below "
        f"{config.restart_ratio:g} times its start (a batch that fits the gradient but is not "
        f"the private one), {counts.get('stalled', 0)} stalled further from a match "
        f"on every one of their {config.restarts + 1} starts, {counts.get('budget', 0)} ran "
        f"out of their {config.steps} steps and {counts.get('diverged', 0)} diverged")}
    found["endings_verdict"] = (
        "Most of them ran out of steps: a larger budget may well recover more"
        if counts.get("budget", 0) > n / 2 else
        "The budget is not what stopped them: most came to rest well inside it")
    return found


def protection_findings(tables: Mapping[str, Any]) -> dict[str, str]:
    """``protection_summary``: what a larger batch and a higher resolution did against each
    attack measured, from the verdicts of :func:`atlas_claims`, in one sentence (attacks with
    the same outcomes named together)."""
    outcomes: dict[str, dict[str, list[str]]] = {}
    for attack, factor, claim in _factor_claims(tables):
        outcome = ("protected the course's LeNet" if claim.verdict.startswith(HOLDS) else
                   "lowered the rate without preventing leakage"
                   if "lowers the rate" in claim.verdict else "made no measurable difference")
        outcomes.setdefault(attack, {}).setdefault(outcome, []).append(_CAUSES[factor][1])
    by_outcomes: dict[str, list[str]] = {}
    for attack, found in outcomes.items():
        said = "; ".join(f"{_joined(causes)} {'both ' if len(causes) > 1 else ''}{outcome}"
                         for outcome, causes in found.items())
        by_outcomes.setdefault(said, []).append(attack_entry(attack).display)
    if not by_outcomes:
        return {}
    sentence = "; ".join(f"against {_joined(attacks)}, {said}"
                         for said, attacks in by_outcomes.items())
    return {"protection_summary": sentence[0].upper() + sentence[1:]}


_CAUSES = {"batch": (REPORT_FUTURE_BATCH, "a larger batch"),
           "resolution": (REPORT_FUTURE_RESOLUTION, "a higher resolution")}
"""The factors the report's future work hopes will prevent leakage: its words, and the cause."""


def _factor_claims(tables: Mapping[str, Any]) -> list[tuple[str, str, Claim]]:
    """``(attack, factor, claim)``: for each attack and factor of :data:`_CAUSES` with a level
    stored beyond the baseline, whether the largest such level prevents leakage."""
    claims = []
    for factor, (quote, cause) in _CAUSES.items():
        for attack in ATLAS_ATTACKS:
            levels = labelled_levels(dict(tables), attack, factor)
            if len(levels) < 2:
                continue
            rows = level_rates(levels)
            baseline = next(row for row in rows
                            if row["label"] == level_label(factor, FACTORS[factor]))
            largest = rows[-1]
            if largest is baseline:
                continue
            claim = factor_prevents(quote, cause, baseline, largest)
            claims.append((attack, factor, Claim(
                claim.claim, f"{attack_entry(attack).display}: {claim.measured}", claim.verdict)))
    return claims


def atlas_claims(tables: Mapping[str, Any]) -> list[Claim]:
    """The report's claims the atlas tests: DLG's convergence (one start against its restarts),
    its labels (against iDLG's, over the base case), and its future work's hope that a larger
    batch and a higher resolution prevent leakage (the base case against the largest level
    stored, for each attack)."""
    claims = []
    levels = dict(factor_levels(dict(tables), "dlg", "restarts"))
    if FACTORS["restarts"] in levels and "0" in levels:
        one, preset = levels["0"], levels[FACTORS["restarts"]]
        counts = {name: (int(rows["leaks"].sum()), len(rows))
                  for name, rows in (("one", one), ("preset", preset))}
        apart = wilson(*counts["one"])[1] < wilson(*counts["preset"])[0]
        claims.append(Claim(
            REPORT_CONVERGENCE,
            f"DLG with one random start: {rate_text(*counts['one'], 'attacks')} leaked; with up "
            f"to {FACTORS['restarts']} restarts judged by the gradient distance alone: "
            f"{rate_text(*counts['preset'], 'attacks')}",
            f"{HOLDS} for a single start; restarts that need only what the attacker sees "
            "remove it" if apart else
            f"{DOES_NOT_HOLD}: a single start leaked about as often as restarts"))
    dlg, idlg = tables.get("dlg-base"), tables.get("idlg-base")
    if dlg is not None and idlg is not None:
        claims.append(labels_inefficient(
            REPORT_LABELS, (int(dlg["label_correct"].sum()), len(dlg)),
            (int(idlg["label_correct"].sum()), len(idlg))))
    return claims + [claim for _, _, claim in _factor_claims(tables)]
