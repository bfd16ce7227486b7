"""The success-rate chapter's tables: rates with their intervals and n, by attack and by
source, and the label accuracy beside the iDLG paper's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from IPython.display import Markdown

from ..analysis.atlas import IDLG_PAPER_LABEL_ACCURACY, image_bootstrap, rates
from ..attack.registry import attack_entry
from ..runs.atlas_plan import ATLAS, level_label
from .tables import markdown_table

__all__ = ["SOURCE_NAMES", "percent_interval", "base_table", "source_table", "label_table",
           "profile_table", "factor_table", "budget_table", "plan_table", "attacks_table",
           "seeds_table"]

SOURCE_NAMES = {"photo": "photograph crops", "face": "LFW faces", "digit": "digits"}
"""A pool source in prose; the iDLG paper's nearest data set is beside it in the label table."""

_NEAREST = {"photo": "CIFAR-100", "face": "LFW", "digit": "MNIST"}


def percent_interval(rate: float, low: float, high: float) -> str:
    """``"41.2 % (38.1–44.3)"``: a rate and its interval, in per cent."""
    return f"{100 * rate:.1f} % ({100 * low:.1f}–{100 * high:.1f})"


def base_table(tables: Mapping[str, Any]) -> Markdown:
    """One row per attack: its attacks, the share that leaked with the Wilson interval over
    attacks and the bootstrap interval over images, and the share of labels right."""
    rows = []
    for attack, table in tables.items():
        (overall,) = rates(table)
        low, high = image_bootstrap(table)
        rows.append({
            "attack": attack, "n": f"{overall['n']:,} ({table['images'].nunique()} images)",
            "leaked": percent_interval(overall["rate"], overall["low"], overall["high"]),
            "images": f"{100 * low:.1f}–{100 * high:.1f} %",
            "labels": percent_interval(overall["label_rate"], overall["label_low"],
                                       overall["label_high"]),
            "likeness": f"{overall['likeness']:.3f} ({overall['likeness_low']:.3f}–"
                        f"{overall['likeness_high']:.3f})"})
    return markdown_table(rows, {
        "attack": ("attack", str), "n": ("attacks", str),
        "leaked": ("leaked (95 % CI)", str), "images": ("95 % CI over images", str),
        "likeness": ("median likeness (95 % CI)", str), "labels": ("label right (95 % CI)", str)})


def source_table(tables: Mapping[str, Any]) -> Markdown:
    """The leak rate of each attack by the pool's source of the private image."""
    columns: dict[str, tuple[str, Any]] = {"source": ("private image", str)}
    found: dict[str, dict[str, Any]] = {}
    for attack, table in tables.items():
        columns[attack] = (f"{attack}: leaked (95 % CI)", str)
        for row in rates(table, ["sources"]):
            entry = found.setdefault(row["sources"], {
                "source": f"{SOURCE_NAMES.get(row['sources'], row['sources'])} (n = {row['n']})"})
            entry[attack] = percent_interval(row["rate"], row["low"], row["high"])
    return markdown_table(list(found.values()), columns)


def label_table(tables: Mapping[str, Any]) -> Markdown:
    """The share of labels each attack recovered, by source, beside the iDLG paper's figure on
    the nearest data set (CIFAR-100 for photographs, LFW for faces, MNIST for digits)."""
    rows = []
    for attack, table in tables.items():
        for row in rates(table, ["sources"]):
            nearest = _NEAREST.get(row["sources"])
            paper = IDLG_PAPER_LABEL_ACCURACY.get(attack, {}).get(nearest)
            rows.append({
                "attack": attack,
                "source": SOURCE_NAMES.get(row["sources"], row["sources"]),
                "n": f"{row['n']:,}",
                "here": percent_interval(row["label_rate"], row["label_low"], row["label_high"]),
                "paper": "—" if paper is None else f"{100 * paper:.1f} % ({nearest})"})
    return markdown_table(rows, {
        "attack": ("attack", str), "source": ("private image", str), "n": ("attacks", str),
        "here": ("label right here (95 % CI)", str),
        "paper": ("iDLG paper (nearest data set)", str)})


def profile_table(profile: list[dict[str, Any]]) -> Markdown:
    """:func:`~dlg_helpers.analysis.atlas.resistance_profile` as a table: how many images fare
    each way, where they come from, and their median contrast, edges and colour."""
    rows = [{**row, "sources": ", ".join(f"{100 * row[f'share_{s}']:.0f} % {SOURCE_NAMES[s]}"
                                          for s in ("photo", "face", "digit"))}
            for row in profile]
    return markdown_table(rows, {
        "group": ("over its seeds, the image", str), "images": ("images", str),
        "sources": ("of which", str), "contrast": ("contrast", "{:.3f}".format),
        "edges": ("edges", "{:.3f}".format), "colour": ("colour", "{:.3f}".format)})


def factor_table(by_attack: Mapping[str, Sequence[Mapping[str, Any]]]) -> Markdown:
    """One factor's levels for each attack (:func:`~dlg_helpers.analysis.atlas.level_rates`
    rows by attack name): the attacks and private images of each level, the share of images
    that leaked with its interval, the share of labels right and the median likeness."""
    rows = [{"attack": attack, **row,
             "n": f"{row['images']}" + (f" ({row['attacks']} batches)"
                                        if row["attacks"] != row["images"] else ""),
             "leaked": percent_interval(row["rate"], row["low"], row["high"])}
            for attack, levels in by_attack.items() for row in levels]
    return markdown_table(rows, {
        "attack": ("attack", str), "label": ("level", str), "n": ("images", str),
        "leaked": ("images leaked (95 % CI)", str),
        "label_rate": ("labels right", lambda share: f"{100 * share:.0f} %"),
        "likeness": ("median likeness", "{:.2f}".format)})


def budget_table(rows: Sequence[Mapping[str, Any]]) -> Markdown:
    """:func:`~dlg_helpers.analysis.atlas.budget_rows`: each setting's numbers the
    gradient carries about the images, the unknowns, their ratio, and the share of images each
    measured attack leaked."""
    attacks = list(dict.fromkeys(name for row in rows for name in row["rates"]))
    cells = [{**row, "carried": row["features"] + row["classifier"],
              **dict.fromkeys(attacks, "—"),  # an attack not measured at this setting
              **{attack: percent_interval(rate["rate"], rate["low"], rate["high"])
                 for attack, rate in row["rates"].items()}} for row in rows]
    return markdown_table(cells, {
        "label": ("setting", str), "carried": ("numbers about the images", "{:,}".format),
        "unknowns": ("unknowns (pixels)", "{:,}".format), "ratio": ("ratio", "{:.2f}".format),
        **{attack: (f"{attack}: leaked (95 % CI)", str) for attack in attacks}})


def plan_table(tables: Mapping[str, Any]) -> Markdown:
    """The atlas's stored sweeps (:data:`~dlg_helpers.runs.atlas_plan.ATLAS`, by name in
    ``tables``): the attack, what the sweep changes from the base case, its attacks, the
    different private images they attack (a batch counts each of its images; an image attacked
    under several weight seeds counts once) and the weight seeds."""
    rows = []
    for sweep in ATLAS:
        table = tables.get(sweep.name)
        if table is None:
            continue
        changes = ("nothing (the base case)" if sweep.factor == "base" else
                   ", ".join(sorted(set(table["defence"]))) if sweep.factor == "defences" else
                   level_label(sweep.factor, sweep.level))
        images = {name for entry in table["images"] for name in entry.split("+")}
        rows.append({"attack": attack_entry(sweep.attack).display,
                     "changes": changes, "attacks": len(table), "images": len(images),
                     "seeds": table["seed"].nunique()})
    return markdown_table(rows, {
        "attack": ("attack", str), "changes": ("changed", str),
        "attacks": ("attacks", "{:,}".format), "images": ("different images", str),
        "seeds": ("weight seeds", str)})


def attacks_table(frame: Any) -> Markdown:
    """A sweep's table as a reader looks at it: one row per attack, its private image(s),
    whether it leaks, its likeness and rank, whether the label came out right, how it ended
    and after how many steps."""
    yes_no = {True: "yes", False: "no"}.get
    return markdown_table(frame.to_dict("records"), {
        "images": ("private image", str), "leaks": ("leaks", yes_no),
        "likeness": ("likeness", "{:.3f}".format), "rank": ("rank", str),
        "label_correct": ("label right", yes_no), "status": ("ended", str),
        "steps": ("steps", str)})


def seeds_table(rows: Sequence[Mapping[str, Any]]) -> Markdown:
    """:func:`~dlg_helpers.analysis.atlas.seed_levels` rows: each level's attack, the images
    leaked under each seed (its network) with their interval, and the interval over the
    networks."""
    cells = [{**row, "each": "; ".join(
        f"seed {s['seed']}: {s['found']} of {s['total']} ({100 * s['low']:.0f}–"
        f"{100 * s['high']:.0f} %)" for s in row["seeds"]),
        "networks": f"{100 * row['networks_low']:.0f}–{100 * row['networks_high']:.0f} %"}
        for row in rows]
    return markdown_table(cells, {
        "attack": ("attack", str), "level": ("level", str), "each": ("each network: leaked", str),
        "networks": ("over the networks", str)})
