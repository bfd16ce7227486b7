"""What the federation chapter's stored tables say, as numbers and typed verdicts: a
:class:`Tally` per group of images, and one outcome per measurement of
:mod:`~dlg_helpers.runs.federation_plan`. The chapter writes the words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..runs.federation_plan import MULTI_STEP, SINGLE_STEP
from .verdicts import Verdict, share_outcome

__all__ = ["Tally", "tally", "FedavgOutcome", "fedavg_outcome", "SecureOutcome", "secure_outcome",
           "DpOutcome", "privacy_outcomes", "ImprintOutcome", "imprint_outcome"]


@dataclass(frozen=True)
class Tally:
    """``count`` of a group's ``images``: those that leaked, or came back exactly."""

    count: int
    images: int

    @property
    def share(self) -> float:
        """``count / images`` (NaN for an empty group)."""
        return self.count / self.images if self.images else float("nan")

    @property
    def most(self) -> bool:
        """At least half of the images."""
        return self.images > 0 and 2 * self.count >= self.images


def tally(rows: Any, column: str = "leaks") -> Tally:
    """How many of ``rows`` (one per image) are true in ``column``."""
    return Tally(int(rows[column].sum()), len(rows))


def _spread(cells: Sequence[Tally]) -> Verdict:
    """HOLDS when most images leaked in every cell, DOES_NOT_HOLD when in none, PARTLY else."""
    return share_outcome(sum(cell.most for cell in cells), len(cells))


@dataclass(frozen=True)
class FedavgOutcome:
    """The FedAvg grid (:func:`~dlg_helpers.runs.federation_plan.fedavg`) by the clients' local work: one local step (federated
    SGD, where both attacks are the same), a few (more than one, at most two epochs) and five
    epochs, each for the attack that simulates the steps and the one that assumes one.

    Attributes:
        five_by_batch: ``(local batch, SGD steps, simulating attack's tally)`` at five epochs,
            the largest batch (fewest steps) first.
        verdict: whether the server still steals the images of a client that does local work,
            from the simulating attack's cells of more than one step: HOLDS when most images
            leaked in every such cell, DOES_NOT_HOLD in none, PARTLY otherwise.
    """

    one_step: Tally
    few_simulating: Tally
    few_assuming: Tally
    five_simulating: Tally
    five_assuming: Tally
    five_by_batch: tuple[tuple[int, int, Tally], ...]
    verdict: Verdict


def fedavg_outcome(frame: Any) -> FedavgOutcome:
    """What the stored ``fedavg`` table (:func:`load_measurement`) says, as numbers."""
    def part(attack: str, work: str) -> Any:
        rows = frame[frame["attack"] == attack]
        return rows[{"one": rows["steps"] == 1, "five": rows["epochs"] == 5,
                     "few": (rows["steps"] > 1) & (rows["epochs"] <= 2),
                     "local": rows["steps"] > 1}[work]]

    return FedavgOutcome(
        one_step=tally(part(MULTI_STEP, "one")),
        few_simulating=tally(part(MULTI_STEP, "few")), few_assuming=tally(part(SINGLE_STEP, "few")),
        five_simulating=tally(part(MULTI_STEP, "five")),
        five_assuming=tally(part(SINGLE_STEP, "five")),
        five_by_batch=tuple((int(batch), int(rows["steps"].iloc[0]), tally(rows)) for batch, rows
                            in sorted(part(MULTI_STEP, "five").groupby("batch"), reverse=True)),
        verdict=_spread([tally(rows) for _, rows in
                         part(MULTI_STEP, "local").groupby(["epochs", "batch"])]))


@dataclass(frozen=True)
class SecureOutcome:
    """The SecAgg+ table (:func:`~dlg_helpers.runs.federation_plan.secure`) as numbers.

    Attributes:
        own: each client's own update, without secure aggregation (N = 1).
        aggregates: ``(clients N, tally)`` for each SecAgg+ aggregate, N ascending.
        tuned, default: the two-client aggregates at ``max_weight`` 1 (the clients' examples)
            and at Flower's default 1,000, each with its median squared relative error
            (``tuned_error``, ``default_error``).
        verdict: whether secure aggregation stops the curious server's attack: HOLDS when
            most images leaked from no aggregate, DOES_NOT_HOLD when from every one, PARTLY
            otherwise.
    """

    own: Tally
    aggregates: tuple[tuple[int, Tally], ...]
    tuned: Tally
    default: Tally
    tuned_error: float
    default_error: float
    verdict: Verdict

    def aggregate(self, clients: int) -> Tally:
        """The tally of the aggregate of ``clients`` clients."""
        return dict(self.aggregates)[clients]

    @property
    def quantisation_decides(self) -> bool:
        """The default ``max_weight`` leaked fewer images than one matched to the clients."""
        return self.default.share < self.tuned.share


def secure_outcome(frame: Any) -> SecureOutcome:
    """What the stored ``secure`` table says, as numbers."""
    clients = frame[frame["part"] == "clients"]
    counts = {int(n): tally(rows) for n, rows in clients.groupby("clients")}
    pairs = frame[(frame["clients"] == 2) & (frame["draw"] < 2)]
    tuned, default = (pairs[pairs["max_weight"] == w] for w in (1.0, 1000.0))
    aggregates = tuple((n, t) for n, t in sorted(counts.items()) if n > 1)
    return SecureOutcome(
        own=counts[1], aggregates=aggregates, tuned=tally(tuned), default=tally(default),
        tuned_error=float(tuned["aggregate_error"].median()),
        default_error=float(default["aggregate_error"].median()),
        verdict=_spread([Tally(t.images - t.count, t.images) for _, t in aggregates]))


@dataclass(frozen=True)
class DpOutcome:
    """What one attack recovered under Flower's differential privacy (:func:`~dlg_helpers.runs.federation_plan.privacy`).

    Attributes:
        none, server_clipping, client_clipping: without DP, and under central DP with the
            clipping on the server or on the clients.
        local_leaks_from: the smallest ε per round of local DP at which an image leaked (NaN
            if none did).
        local_safe_up_to: the largest ε below that at which nothing leaked (NaN if none).
    """

    none: Tally
    server_clipping: Tally
    client_clipping: Tally
    local_leaks_from: float
    local_safe_up_to: float


def privacy_outcomes(frame: Any) -> dict[str, DpOutcome]:
    """What the stored ``privacy`` table says, by attack (``"iDLG"``, ``"inverting
    gradients"``)."""
    found = {}
    for attack, rows in frame.groupby("attack", sort=False):
        setting = {name: tally(part) for name, part in rows.groupby("setting")}
        local = rows[rows["setting"].str.startswith("local")].groupby("epsilon")["leaks"].sum()
        leaking = [float(e) for e, n in local.items() if n > 0]
        start = min(leaking, default=float("inf"))
        safe = [float(e) for e, n in local.items() if n == 0 and e < start]
        found[str(attack)] = DpOutcome(
            none=setting["none"], server_clipping=setting["server-side clipping + noise"],
            client_clipping=setting["client-side clipping + server noise"],
            local_leaks_from=start if leaking else float("nan"),
            local_safe_up_to=max(safe, default=float("nan")))
    return found


@dataclass(frozen=True)
class ImprintOutcome:
    """Robbing the Fed under SecAgg+ (:func:`~dlg_helpers.runs.federation_plan.imprint`) as numbers.

    Attributes:
        exact: images read back exactly over the whole grid.
        largest_exact, largest_leaked: in the round with the most images, of
            ``largest_clients`` clients with ``largest_batch`` images each.
        verdict: whether secure aggregation stops the malicious server: HOLDS when it read no
            image of any round back exactly, DOES_NOT_HOLD when some of every round, PARTLY
            otherwise.
    """

    exact: Tally
    largest_exact: Tally
    largest_leaked: Tally
    largest_clients: int
    largest_batch: int
    verdict: Verdict


def imprint_outcome(frame: Any) -> ImprintOutcome:
    """What the stored ``imprint`` table says, as numbers."""
    size = frame["clients"] * frame["batch"]
    largest = frame[size == size.max()]
    some = [tally(rows, "exact").count > 0 for _, rows in frame.groupby(["clients", "batch"])]
    return ImprintOutcome(
        exact=tally(frame, "exact"), largest_exact=tally(largest, "exact"),
        largest_leaked=tally(largest), largest_clients=int(largest["clients"].iloc[0]),
        largest_batch=int(largest["batch"].iloc[0]),
        verdict=(Verdict.DOES_NOT_HOLD if all(some) else
                 Verdict.HOLDS if not any(some) else Verdict.PARTLY))
