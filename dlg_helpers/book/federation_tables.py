"""The federation chapter's tables, from the stored measurements
(:mod:`~dlg_helpers.runs.federation_plan`): every share of leaked images with its count and
95 % Wilson interval, every median likeness with its interval."""

from __future__ import annotations

from typing import Any

from IPython.display import Markdown

from ..analysis.atlas import rates
from ..runs.federation_plan import MULTI_STEP, SINGLE_STEP
from .tables import fmt_sci, markdown_table, share_cell

__all__ = ["likeness_cell", "fedavg_table", "secure_table", "quantisation_rows",
           "quantisation_table", "privacy_table", "imprint_table"]


def likeness_cell(group: dict[str, Any]) -> str:
    """A group's median likeness with its interval, from :func:`~dlg_helpers.analysis.atlas.rates`."""
    return f"{group['likeness']:.2f} ({group['likeness_low']:.2f}–{group['likeness_high']:.2f})"


def _leaked(group: dict[str, Any]) -> str:
    return share_cell(group["leaked"], group["n"])


def fedavg_table(frame: Any) -> Markdown:
    """One row per (local epochs, local batch): the client's SGD steps, and for each attack the
    images that leaked and their median likeness."""
    found = {(g["epochs"], g["batch"], g["attack"]): g
             for g in rates(frame, by=("epochs", "batch", "attack"))}
    steps = frame.groupby(["epochs", "batch"])["steps"].first().to_dict()
    rows = []
    for (epochs, batch), count in sorted(steps.items()):
        multi, single = found[epochs, batch, MULTI_STEP], found[epochs, batch, SINGLE_STEP]
        rows.append({"epochs": epochs, "batch": batch, "steps": count,
                     "multi": _leaked(multi), "multi_like": likeness_cell(multi),
                     "single": _leaked(single), "single_like": likeness_cell(single)})
    return markdown_table(rows, {
        "epochs": ("local epochs", str), "batch": ("local batch", str),
        "steps": ("SGD steps", str),
        "multi": ("leaked, simulating the steps", str), "multi_like": ("its likeness", str),
        "single": ("leaked, assuming one step", str), "single_like": ("its likeness", str)})


def secure_table(frame: Any) -> Markdown:
    """The attack on what the server sees against the number of clients N: each client's own
    update without secure aggregation (N = 1), the SecAgg+ aggregate otherwise."""
    clients = frame[frame["part"] == "clients"]
    rows = []
    for group in rates(clients.sort_values("clients"), by=("clients",)):
        members = clients[clients["clients"] == group["clients"]]
        rows.append({"clients": group["clients"],
                     "seen": "its own update" if group["clients"] == 1 else "the aggregate",
                     "leaked": _leaked(group), "likeness": likeness_cell(group),
                     "labels": share_cell(int(members.groupby("draw")["labels_right"].first()
                                              .sum()), len(members)),
                     "error": "none" if group["clients"] == 1
                     else fmt_sci(float(members["aggregate_error"].median()))})
    return markdown_table(rows, {
        "clients": ("clients N", str), "seen": ("the server sees", str),
        "leaked": ("images leaked", str), "likeness": ("median likeness", str),
        "labels": ("labels read", str), "error": ("aggregate's squared relative error", str)})


def quantisation_rows(frame: Any) -> list[dict[str, Any]]:
    """Two-client SecAgg+ aggregates by ``max_weight``: the first two draws of the clients
    part (``max_weight`` 1) and the quantisation part, each with its leak count and its
    aggregate's median squared relative error (the squared norm of the difference over the
    exact gradient's squared norm)."""
    pairs = frame[(frame["clients"] == 2) & (frame["draw"] < 2)]
    found = []
    for max_weight, members in sorted(pairs.groupby("max_weight")):
        (group,) = rates(members)
        found.append({"max_weight": max_weight, **group,
                      "error": float(members["aggregate_error"].median())})
    return found


def quantisation_table(frame: Any, rounding_step: Any) -> Markdown:
    """:func:`quantisation_rows` as a table; ``rounding_step(max_weight)`` gives the spacing of
    the levels a one-image client's weights are rounded to."""
    return markdown_table([{
        "max_weight": f"{row['max_weight']:,.0f}",
        "step": fmt_sci(rounding_step(row["max_weight"])),
        "error": fmt_sci(row["error"]), "leaked": _leaked(row),
        "likeness": likeness_cell(row)} for row in quantisation_rows(frame)], {
        "max_weight": ("max_weight", str), "step": ("rounding step (weight units)", str),
        "error": ("aggregate's squared relative error", str), "leaked": ("images leaked", str),
        "likeness": ("median likeness", str)})


def privacy_table(frame: Any) -> Markdown:
    """One row per Flower differential-privacy setting: its ε (at δ), how far the replies the
    server kept are from the clean updates, and for each attack the images that leaked and
    their median likeness."""
    found = {(g["setting"], g["attack"]): g for g in rates(frame, by=("setting", "attack"))}
    attacks = list(dict.fromkeys(frame["attack"]))
    rows = []
    for setting, members in frame.groupby("setting", sort=False):
        epsilon = members["epsilon"].iloc[0]
        row = {"setting": setting,
               "epsilon": "none" if epsilon is None or epsilon != epsilon
               else f"{epsilon:,.0f}" if epsilon >= 10 else f"{epsilon:.2f}",
               "change": fmt_sci(float(members["change"].median()))}
        for index, attack in enumerate(attacks):
            row[f"leaked{index}"] = _leaked(found[setting, attack])
            row[f"likeness{index}"] = f"{found[setting, attack]['likeness']:.2f}"
        rows.append(row)
    columns = {"setting": ("Flower's setting", str), "epsilon": ("ε per round (δ = 1e-5)", str),
               "change": ("reply's change", str)}
    for index, attack in enumerate(attacks):
        columns[f"leaked{index}"] = (f"leaked, {attack}", str)
        columns[f"likeness{index}"] = ("median likeness", str)
    return markdown_table(rows, columns)


def imprint_table(frame: Any) -> Markdown:
    """Robbing the Fed under SecAgg+: by clients and batch, the images in the round, how many
    came back exactly and how many leak."""
    rows = []
    for (clients, batch), members in sorted(frame.groupby(["clients", "batch"])):
        rows.append({"clients": clients, "batch": batch, "images": len(members),
                     "exact": share_cell(int(members["exact"].sum()), len(members)),
                     "leaked": share_cell(int(members["leaks"].sum()), len(members))})
    return markdown_table(rows, {
        "clients": ("clients", str), "batch": ("batch per client", str),
        "images": ("images in the round", str),
        "exact": ("exact (MSE < 1e-3)", str), "leaked": ("leaked", str)})
