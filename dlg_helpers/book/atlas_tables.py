"""The success-rate chapter's tables: rates with their intervals and n, by attack and by
source, and the label accuracy beside the iDLG paper's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.display import Markdown

from ..analysis.atlas import image_bootstrap, rates
from .tables import markdown_table

__all__ = ["IDLG_PAPER_LABEL_ACCURACY", "SOURCE_NAMES", "percent_interval", "base_table",
           "source_table", "label_table", "profile_table"]

IDLG_PAPER_LABEL_ACCURACY = {"DLG": {"MNIST": 0.899, "CIFAR-100": 0.833, "LFW": 0.791},
                             "iDLG": {"MNIST": 1.0, "CIFAR-100": 1.0, "LFW": 1.0}}
"""Table 1 of Zhao et al. (2020): the share of labels each attack recovered, by data set."""

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
            "likeness": f"{overall['likeness']:.2f} ({overall['likeness_low']:.2f}–"
                        f"{overall['likeness_high']:.2f})"})
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
