"""What the federation chapter's measurements say, as the sentences and numbers its prose
glues in: every share with its count and interval (:func:`~.intervals.rate_text`), every
verdict decided here from the tables, not written by hand."""

from __future__ import annotations

from typing import Any

from ..federation.experiments import MULTI_STEP, SINGLE_STEP
from .intervals import median_text, rate_text

__all__ = ["leaked_text", "fedavg_findings", "secure_findings", "privacy_findings",
           "imprint_findings"]


def leaked_text(rows: Any) -> str:
    """``"10 of 12 images (83 %, 95 % CI 55–95 %)"`` for the rows' images that leak."""
    return rate_text(int(rows["leaks"].sum()), len(rows), "images")


def fedavg_findings(frame: Any) -> dict[str, str]:
    """The FedAvg grid in words: federated SGD (one step), a few local steps (more than one,
    at most two epochs), five epochs; each for the attack that simulates the steps and the one
    that assumes a single step; and whether local work protects the images."""
    one = frame[frame["steps"] == 1]
    few = frame[(frame["steps"] > 1) & (frame["epochs"] <= 2)]
    five = frame[frame["epochs"] == 5]
    found = {"fedavg_one_step": leaked_text(one[one["attack"] == MULTI_STEP])}
    for name, part in (("few", few), ("five", five)):
        for attack, tag in ((MULTI_STEP, "multi"), (SINGLE_STEP, "single")):
            found[f"fedavg_{name}_{tag}"] = leaked_text(part[part["attack"] == attack])
    simulated = five[five["attack"] == MULTI_STEP]
    found["fedavg_five_by_batch"] = "; ".join(
        f"{int(rows['leaks'].sum())} of {len(rows)} at local batch {batch} "
        f"({int(rows['steps'].iloc[0])} steps)"
        for batch, rows in sorted(simulated.groupby("batch"), reverse=True))
    multi_few = few[few["attack"] == MULTI_STEP]["leaks"].mean()
    single_few = few[few["attack"] == SINGLE_STEP]["leaks"].mean()
    found["fedavg_verdict"] = (
        "Local work does not protect the images from an attacker who simulates it: a few "
        "local steps hide them only from the attacker who assumes one step"
        if multi_few >= 0.5 > single_few else
        "Local work protected the images here, from both attackers" if multi_few < 0.5 else
        "A few local steps hid nothing, even from the attacker who assumes one step")
    return found


def secure_findings(frame: Any) -> dict[str, str]:
    """SecAgg+ in words: one client's own update, aggregates of 2, 4 and 8, and the two-client
    aggregate at Flower's default ``max_weight`` against one matched to the examples."""
    clients = frame[frame["part"] == "clients"]
    found = {f"secure_n{n}": leaked_text(clients[clients["clients"] == n])
             for n in sorted(clients["clients"].unique())}
    found["secure_n1_likeness"] = median_text(list(clients[clients["clients"] == 1]["likeness"]))
    pairs = frame[(frame["clients"] == 2) & (frame["draw"] < 2)]
    for max_weight, tag in ((1.0, "tuned"), (1000.0, "default")):
        members = pairs[pairs["max_weight"] == max_weight]
        found[f"secure_{tag}"] = leaked_text(members)
        found[f"secure_{tag}_error"] = f"{float(members['aggregate_error'].median()):.1e}"
    default = pairs[pairs["max_weight"] == 1000.0]["leaks"].mean()
    tuned = pairs[pairs["max_weight"] == 1.0]["leaks"].mean()
    found["secure_quantisation_verdict"] = (
        "Its quantisation defeated the attack only where it was misconfigured"
        if default < tuned else
        "Its quantisation did not decide the attack" if default == tuned else
        "Its quantisation helped the attack, if anything")
    return found


def privacy_findings(frame: Any) -> dict[str, str]:
    """Flower's DP in words, for each attack (``_dlg``, ``_ig``): what leaked without it, under
    the two central-DP setups (whose noise the server adds after it has seen the replies), and
    the ε from which local DP let images through."""
    found = {}
    for attack, tag in (("DLG", "dlg"), ("inverting gradients", "ig")):
        rows = frame[frame["attack"] == attack]
        for setting, key in (("none", "none"), ("server-side clipping + noise", "server"),
                             ("client-side clipping + server noise", "client")):
            found[f"privacy_{key}_{tag}"] = leaked_text(rows[rows["setting"] == setting])
        local = rows[rows["setting"].str.startswith("local")]
        leaking = local.groupby("epsilon")["leaks"].sum()
        safe, unsafe = leaking[leaking == 0].index, leaking[leaking > 0].index
        found[f"privacy_local_{tag}"] = (
            f"none at any ε tried (up to {max(safe):,.0f} per round)" if not len(unsafe) else
            f"images from ε = {min(unsafe):,.0f} per round"
            + (f" (none up to {max(safe):,.0f})" if len(safe) and max(safe) < min(unsafe)
               else ""))
    clipped = ~frame["setting"].isin(["none"]) & ~frame["setting"].str.startswith("local")
    dlg, ig = (frame[clipped & (frame["attack"] == a)]["leaks"].mean()
               for a in ("DLG", "inverting gradients"))
    found["privacy_clipping_note"] = (
        "Clipping alone stopped DLG, whose squared distance must match the update's length, "
        "and not inverting gradients, whose cosine distance ignores it: the protection came "
        "from a rescaling an attacker can ignore, not from the noise"
        if ig > dlg else
        "Clipping stopped neither attack" if dlg > 0 else
        "Clipping the replies stopped both attacks here")
    return found


def imprint_findings(frame: Any) -> dict[str, str]:
    """Robbing the Fed in words: images recovered exactly over the whole grid, at its largest
    round, and how many images were in that round."""
    largest = frame[frame["clients"] * frame["batch"] == (frame["clients"] * frame["batch"]).max()]
    share = float(largest["exact"].mean())
    return {"imprint_verdict": "Against a malicious server it stops nothing" if share >= 0.5
            else "Against a malicious server it is no protection, though its rounding, more "
                 "than collisions in the imprint's bins, keeps most images of the largest round "
                 "from coming back as exact copies",
            "imprint_all": rate_text(int(frame["exact"].sum()), len(frame), "images"),
            "imprint_largest": rate_text(int(largest["exact"].sum()), len(largest), "images"),
            "imprint_largest_round": f"{int(largest['clients'].iloc[0])} clients with "
                                     f"{int(largest['batch'].iloc[0])} images each"}
