"""The federation chapter's measurements, each stored as one table and resumable.

``python -m dlg_helpers.federation.experiments NAME`` computes one measurement into
``results/federation/NAME.parquet``; an interrupted run resumes from what it wrote (every
finished unit of work is appended at once to ``NAME.partial.jsonl``, and a federation's kept
round to ``NAME.rounds/``, so the attacks resumed attack the very updates Flower carried). The
chapter loads the tables with :func:`load_measurement`.

- ``fedavg``: federated averaging with local work (:data:`FEDAVG_EPOCHS` x
  :data:`FEDAVG_BATCHES`), every client's update attacked by DLG simulating the local steps and
  by DLG assuming one step.
- ``secure``: SecAgg+ (the attack on the aggregate against the number of clients, and the
  effect of its quantisation through ``max_weight``).
- ``privacy``: Flower's differential-privacy mods and strategy wrappers, with their ε.
- ``imprint``: a malicious server's imprint block (Robbing the Fed) under SecAgg+, against the
  batch size and the number of clients.

What each table says is read off as numbers and :class:`~dlg_helpers.analysis.verdicts.Verdict`
values by :func:`fedavg_outcome`, :func:`secure_outcome`, :func:`privacy_outcomes` and
:func:`imprint_outcome`; the chapter writes the words.

:func:`through_flower` is the chapter's live demonstration: one round, attacked from Flower's
weights and from the gradient itself.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..analysis.metrics import match_batch
from ..analysis.rows import image_rows
from ..attack.config import AttackConfig
from ..attack.engine import Attack
from ..attack.objective import gradient_distance
from ..client.models import get_spec
from ..analysis.criteria import judge_table, leaks, reconstructed
from ..analysis.observer import GroundTruth
from ..analysis.verdicts import Verdict, share_outcome
from ..client.gradients import shared_gradient
from ..client.images import load_image
from ..client.pool import distinct_label_batches, pool, pool_sample
from ..client.victim import SharedUpdate
from ..runs.record import save_png
from .imprint import Imprint, recover_images
from .legacy import SecureAggregation, aggregate_update, run_legacy_federation
from .simulation import (FederationConfig, FederationRound, client_data, client_truth,
                         run_federation, shared_update)

__all__ = ["FOLDER", "FEDAVG_EPOCHS", "FEDAVG_BATCHES", "FEDAVG_CLIENTS", "CLIENT_IMAGES",
           "FEDAVG_SIZE", "FEDAVG_LR", "FEDAVG_ATTACK", "MULTI_STEP", "SINGLE_STEP", "through_flower",
           "fedavg_partitions", "single_step_view", "fedavg", "load_measurement", "MEASUREMENTS",
           "Tally", "tally", "FedavgOutcome", "fedavg_outcome", "SecureOutcome", "secure_outcome",
           "DpOutcome", "privacy_outcomes", "ImprintOutcome", "imprint_outcome", "main"]

FOLDER = Path("results") / "federation"

FEDAVG_EPOCHS = (1, 2, 5)
FEDAVG_BATCHES = (1, 2, 4)
"""Local batch sizes of a client holding :data:`CLIENT_IMAGES` images (4: one step per epoch)."""
FEDAVG_CLIENTS = 3
CLIENT_IMAGES = 4
FEDAVG_SIZE = 16
"""LeNet at 16x16: the side at which DLG recovers a batch of four from one gradient (at 32x32
it recovers none of them, so local work would have nothing left to hide)."""
FEDAVG_LR = 0.1
FEDAVG_ATTACK = AttackConfig(steps=100, label_mode="known", snapshot_every=0, progress=False)
"""DLG (L-BFGS on the squared distance, the report's settings otherwise) given the labels, so
the grid measures what local work does to the images alone, at a budget of 100 steps (up to
2,000 evaluations; simulating 20 local steps makes each evaluation 20 times dearer)."""

MULTI_STEP, SINGLE_STEP = "simulates the local steps", "assumes one step"


def _png_text(image: torch.Tensor) -> str:
    buffer = io.BytesIO()
    save_png(image.clamp(0, 1), buffer)
    return base64.b64encode(buffer.getvalue()).decode()


class _Rows:
    """Rows appended to a JSON-lines file as they are made, and gathered into Parquet (the
    measurement's kept Flower rounds, needed only to resume, are removed then)."""

    def __init__(self, table: Path) -> None:
        self.table = table
        self.partial = table.with_name(table.stem + ".partial.jsonl")
        self.rows: list[dict[str, Any]] = []
        if self.partial.is_file():
            lines = self.partial.read_text().splitlines()
            try:
                self.rows = [json.loads(line) for line in lines]
            except json.JSONDecodeError:  # a run killed mid-line: that unit is done again
                self.rows = [json.loads(line) for line in lines[:-1]]
                self.partial.write_text("".join(line + "\n" for line in lines[:-1]))

    def has(self, **key: Any) -> bool:
        return any(all(row.get(k) == v for k, v in key.items()) for row in self.rows)

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        with self.partial.open("a") as file:
            file.writelines(json.dumps(row) + "\n" for row in rows)
        self.rows += rows

    def finish(self) -> Path:
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        if "thumbnail" in frame:
            frame["thumbnail"] = [base64.b64decode(t) if isinstance(t, str) else None
                                  for t in frame["thumbnail"]]
        frame.to_parquet(self.table, index=False)
        self.partial.unlink()
        shutil.rmtree(self.table.with_suffix(".rounds"), ignore_errors=True)  # kept to resume
        return self.table


def _kept_round(config: FederationConfig, path: Path, **legacy: Any) -> FederationRound:
    """The round Flower carried for ``config``, run once and kept at ``path``; with
    ``legacy`` options (:func:`~.legacy.run_legacy_federation`'s), through the legacy
    protocol."""
    if path.is_file():
        return torch.load(path, weights_only=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as state:  # Flower's and Ray's files
        (kept,) = (run_legacy_federation(config, state, **legacy) if legacy
                   else run_federation(config, state))
    torch.save(kept, path)
    return kept


def _attack_rows(model: torch.nn.Module, update: Any, truth: Any, attack: AttackConfig,
                 images: Sequence[str], key: dict[str, Any], labels: torch.Tensor | None = None,
                 **extra: Any) -> list[dict[str, Any]]:
    """Attack ``update`` and judge each private image (one row each, the first with its
    reconstruction's thumbnail); ``labels`` are given to an attack told them."""
    result = Attack(model, update, attack, get_spec("lenet").normalisation, observer=truth,
                    known_labels=labels).run()
    matched = match_batch(result.reconstruction, result.truth)
    return [{**key, **extra, "image": image, "likeness": row["likeness"], "rank": row["rank"],
             "lookalike": row["lookalike"], "mse": row["mse"],
             "labels_right": result.labels_recovered, "evaluations": result.evaluations,
             "seconds": result.wall_seconds,
             "thumbnail": _png_text(matched[index:index + 1]) if index == 0 else None}
            for index, (image, row) in enumerate(zip(images, image_rows(result.reconstruction,
                                                                         result.truth)))]


def _leaked(store: _Rows, count: int) -> str:
    leaked = sum(leaks(r["likeness"], r["rank"], r["lookalike"]) for r in store.rows[-count:])
    return f"{leaked} of {count} leak"


def _clock(start: float) -> str:
    return f"{time.perf_counter() - start:.0f} s"


def through_flower(config: FederationConfig, attack: AttackConfig, folder: str | Path
                   ) -> list[dict[str, Any]]:
    """One federated-SGD round of ``config`` through Flower, and each client's update attacked
    twice: as the curious server recovered it from the weights, and as the client's gradient
    computed directly. One dict per client: its image, the relative error of the recovered
    gradient, and both attacks' results (``flower``, ``direct``) with their rows."""
    from ..analysis.rows import result_row
    from ..client.victim import victim

    (kept,) = run_federation(config, folder)
    model = config.build()
    found = []
    for partition, names in enumerate(config.partitions):
        client = victim(config.model, list(names), size=config.size, network=model)
        update = shared_update(config, kept, partition)
        direct = client.share().gradient
        error = max(float((a - b).norm() / b.norm()) for a, b in zip(update.gradient, direct))
        results = {"flower": Attack(model, update, attack, client.normalisation,
                                    observer=client_truth(config, partition)).run(),
                   "direct": Attack.against(client, attack).run()}
        found.append({"client": partition, "images": "+".join(names), "error": error,
                      **results, **{f"{k}_row": result_row(r) for k, r in results.items()}})
    return found


def fedavg_partitions(clients: int = FEDAVG_CLIENTS, images: int = CLIENT_IMAGES
                      ) -> tuple[tuple[str, ...], ...]:
    """The clients' private images: a sample of the pool, ``images`` per client."""
    names = [image.name for image in pool_sample(clients * images, seed=1)]
    return tuple(tuple(names[i:i + images]) for i in range(0, len(names), images))


def single_step_view(config: FederationConfig, update: Any) -> Any:
    """What an attacker that assumes one step makes of a FedAvg update: the weights' change is
    ``lr * k`` times one gradient of the whole batch (``k`` the client's steps), so it divides by
    ``k`` and matches that gradient."""
    count = config.local_steps.count(update.examples)
    return replace(update, gradient=[g / count for g in update.gradient], local_steps=None)


def fedavg(folder: Path = FOLDER, log: Callable[[str], None] = print,
           epochs: Iterable[int] = FEDAVG_EPOCHS, batches: Iterable[int] = FEDAVG_BATCHES,
           partitions: tuple[tuple[str, ...], ...] | None = None,
           attack: AttackConfig = FEDAVG_ATTACK) -> Path:
    """Federated averaging through Flower, every (local epochs, local batch) pair: each
    client's update attacked twice (:data:`MULTI_STEP`, :data:`SINGLE_STEP`); one row per
    private image, with the client's first image's reconstruction as a thumbnail."""
    table = Path(folder) / "fedavg.parquet"
    store = _Rows(table)
    partitions = partitions or fedavg_partitions()
    start = time.perf_counter()
    for epoch_count in epochs:
        for batch in batches:
            config = FederationConfig(partitions, lr=FEDAVG_LR, local_epochs=epoch_count,
                                      local_batch=batch, size=FEDAVG_SIZE)
            kept = _kept_round(config, table.with_suffix(".rounds") / f"e{epoch_count}-b{batch}.pt")
            model = config.build()
            for partition in range(len(partitions)):
                update = shared_update(config, kept, partition)
                truth = client_truth(config, partition)
                labels = client_data(config, partition)[1]
                for name, seen in ((MULTI_STEP, update), (SINGLE_STEP,
                                                           single_step_view(config, update))):
                    key = dict(epochs=epoch_count, batch=batch, client=partition, attack=name)
                    if store.has(**key):
                        continue
                    store.add(_attack_rows(model, seen, truth, replace(attack, seed=partition),
                                           partitions[partition], key, labels=labels,
                                           steps=config.local_steps.count(update.examples)))
                    log(f"fedavg {key}: {_leaked(store, len(labels))} ({_clock(start)})")
    return store.finish()


SECURE_SIZE = 16  # as FEDAVG_SIZE: where DLG recovers small batches, so aggregation can hide them
SECURE_CLIENTS = {2: 4, 4: 2, 8: 1}
"""Clients per round -> federations run (draws of one-image clients), 8 clients' images each."""
MAX_WEIGHTS = (1.0, 10.0, 100.0, 1000.0)
"""SecAgg+'s ``max_weight``: 1 is every client's number of examples, 1,000 Flower's default."""
SECURE_ATTACK = AttackConfig(steps=100, label_mode="idlg", snapshot_every=0, progress=False)
"""iDLG: the labels read off the aggregate, the batch size from ``num_examples`` (in clear)."""


def secure_draws() -> list[list[str]]:
    """Batches of 8 pool images with distinct labels (iDLG reads distinct labels only)."""
    return distinct_label_batches(pool_sample(200, seed=2), 8)


def _union(config: FederationConfig) -> tuple[torch.Tensor, torch.Tensor]:
    data = [client_data(config, p) for p in range(len(config.partitions))]
    return torch.cat([d[0] for d in data]), torch.cat([d[1] for d in data])


def _relative_error(found: Sequence[torch.Tensor], exact: Sequence[torch.Tensor]) -> float:
    """DLG's gradient distance between ``found`` and ``exact``, relative to ``exact``'s square."""
    return float(gradient_distance(list(found), list(exact)) / sum((b ** 2).sum() for b in exact))


def _aggregate_rows(config: FederationConfig, kept: FederationRound, key: dict[str, Any],
                    attack: AttackConfig, **extra: Any) -> list[dict[str, Any]]:
    """The aggregate attacked as one batch of every client's images."""
    pixels, labels = _union(config)
    model = config.build()
    inputs = get_spec(config.model).normalisation.to_model_input(pixels)
    exact = shared_gradient(model, inputs, labels)
    found = aggregate_update(config, kept)
    update = SharedUpdate(found, len(pixels), tuple(inputs.shape))
    names = [name for partition in config.partitions for name in partition]
    return _attack_rows(model, update, GroundTruth(pixels, labels), attack, names, key,
                        aggregate_error=_relative_error(found, exact), **extra)


def secure(folder: Path = FOLDER, log: Callable[[str], None] = print,
           attack: AttackConfig = SECURE_ATTACK) -> Path:
    """Secure aggregation with SecAgg+ through Flower. ``part="clients"``: the attack on the
    aggregate of N one-image clients (``max_weight`` 1), and on each client's own update
    without secure aggregation (N = 1, from the same two-client draws); ``part=
    "quantisation"``: two-client aggregates at each of :data:`MAX_WEIGHTS`. Each row carries
    the aggregate's squared error relative to the exact mean gradient."""
    table = Path(folder) / "secure.parquet"
    store, rounds, start = _Rows(table), table.with_suffix(".rounds"), time.perf_counter()
    draws = secure_draws()
    groups = {clients: [draws[index][i:i + clients] for i in range(0, 8, clients)][:count]
              for index, (clients, count) in enumerate(SECURE_CLIENTS.items())}
    for clients, group in groups.items():
        for draw, names in enumerate(group):
            config = FederationConfig(tuple((n,) for n in names), size=SECURE_SIZE)
            key = dict(part="clients", clients=clients, max_weight=1.0, draw=draw)
            if not store.has(**key):
                kept = _kept_round(config, rounds / f"n{clients}-d{draw}-secagg.pt",
                                   secure=SecureAggregation(max_weight=1.0))
                store.add(_aggregate_rows(config, kept, key, attack))
                log(f"secure {key}: {_leaked(store, clients)} ({_clock(start)})")
            if clients != 2:
                continue
            plain = _kept_round(config, rounds / f"n2-d{draw}-plain.pt")
            model = config.build()
            for partition, (name,) in enumerate(config.partitions):
                key = dict(part="clients", clients=1, max_weight=0.0, draw=draw * 2 + partition)
                if not store.has(**key):
                    store.add(_attack_rows(model, shared_update(config, plain, partition),
                                           client_truth(config, partition), attack, [name], key,
                                           aggregate_error=float("nan")))  # no aggregate
    for max_weight in MAX_WEIGHTS[1:]:
        for draw, names in enumerate(groups[2][:2]):
            config = FederationConfig(tuple((n,) for n in names), size=SECURE_SIZE)
            key = dict(part="quantisation", clients=2, max_weight=max_weight, draw=draw)
            if store.has(**key):
                continue
            kept = _kept_round(config, rounds / f"n2-d{draw}-w{max_weight:g}.pt",
                               secure=SecureAggregation(max_weight=max_weight))
            store.add(_aggregate_rows(config, kept, key, attack,
                                      rounding_step=SecureAggregation(max_weight).rounding_step(1)))
            log(f"secure {key}: {_leaked(store, 2)} ({_clock(start)})")
    return store.finish()


PRIVACY_CLIENTS = 4
PRIVACY_CLIP = 1.0
"""The clipping norm of Flower's DP mods, near one SGD step's change here (about 1 at lr 0.1)."""
PRIVACY_DELTA = 1e-5
LOCAL_EPSILONS = (1e2, 1e3, 1e4, 1e5)
"""Local DP's ε per round: its noise is ``C * sqrt(2 ln(1.25/δ)) / ε`` on each of LeNet's 27,436
weights, as large as one step's whole change below about ε = 800."""
CENTRAL_NOISE = 1.0
"""Central DP's noise multiplier (Flower: "1.0 or higher is recommended")."""


def privacy_settings() -> dict[str, dict[str, Any]]:
    """Flower's differential-privacy setups by name: client mods, the strategy wrapper, ε."""
    from flwr.client.mod import LocalDpMod, fixedclipping_mod
    from flwr.server.strategy import (DifferentialPrivacyClientSideFixedClipping,
                                      DifferentialPrivacyServerSideFixedClipping)

    settings: dict[str, dict[str, Any]] = {"none": {"mods": (), "wrap": None, "epsilon": None}}
    for epsilon in LOCAL_EPSILONS:
        settings[f"local DP, ε = {epsilon:g}"] = {
            "mods": (LocalDpMod(PRIVACY_CLIP, PRIVACY_CLIP, epsilon, PRIVACY_DELTA),),
            "wrap": None, "epsilon": epsilon}
    central = central_epsilon(CENTRAL_NOISE, PRIVACY_CLIENTS)
    settings["server-side clipping + noise"] = {
        "mods": (), "epsilon": central, "wrap": lambda strategy:
        DifferentialPrivacyServerSideFixedClipping(strategy, CENTRAL_NOISE, PRIVACY_CLIP / 2,
                                                   PRIVACY_CLIENTS)}
    settings["client-side clipping + server noise"] = {
        "mods": (fixedclipping_mod,), "epsilon": central, "wrap": lambda strategy:
        DifferentialPrivacyClientSideFixedClipping(strategy, CENTRAL_NOISE, PRIVACY_CLIP / 2,
                                                   PRIVACY_CLIENTS)}
    return settings


def central_epsilon(noise_multiplier: float, clients: int, rounds: int = 1,
                    delta: float = PRIVACY_DELTA) -> float:
    """ε of central DP over ``rounds`` rounds of every one of ``clients`` clients, from
    Flower's RDP accountant (client-level, add or remove one client, no sampling)."""
    from flwr.serverapp import NeighboringRelation, PrivacyConfig, RdpAccountant, SamplingMethod
    from flwr.supercore.privacy_accounting import GaussianPrivacyEvent

    accountant = RdpAccountant(PrivacyConfig(
        target_delta=delta, population_size=clients,
        neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
        sampling_method=SamplingMethod.NO_AMPLIFICATION))
    accountant.compose(GaussianPrivacyEvent(noise_multiplier, clients, clients), count=rounds)
    return float(accountant.get_epsilon(delta))


PRIVACY_ATTACKS = {
    "DLG": SECURE_ATTACK,
    "inverting gradients": AttackConfig.inverting_gradients(steps=2000, trials=1,
                                                            snapshot_every=0, progress=False)}
"""The attacks on each reply: iDLG (squared distance, so it matches the update's length too)
and inverting gradients (cosine distance: blind to the length that clipping changes), the
latter at 2,000 Adam steps, a third of its equal-budget preset."""


def privacy(folder: Path = FOLDER, log: Callable[[str], None] = print,
            attacks: dict[str, AttackConfig] | None = None) -> Path:
    """Flower's differential-privacy mods and wrappers (:func:`privacy_settings`) on a
    federation of one-image clients: each reply the curious strategy is given, attacked by
    each of :data:`PRIVACY_ATTACKS`; each row with the setting's ε and the reply's distance from
    the clean update (relative)."""
    table = Path(folder) / "privacy.parquet"
    store, rounds, start = _Rows(table), table.with_suffix(".rounds"), time.perf_counter()
    names = secure_draws()[3][:PRIVACY_CLIENTS]
    config = FederationConfig(tuple((n,) for n in names), size=SECURE_SIZE)
    model = config.build()
    clean = _kept_round(config, rounds / "none.pt")
    for number, (setting, parts) in enumerate(privacy_settings().items()):
        if all(store.has(setting=setting, attack=name) for name in attacks or PRIVACY_ATTACKS):
            continue
        kept = clean if setting == "none" else _kept_round(
            config, rounds / f"setting-{number}.pt", client_mods=parts["mods"], wrap=parts["wrap"])
        for name, attack in (attacks or PRIVACY_ATTACKS).items():
            if store.has(setting=setting, attack=name):
                continue
            for partition, (image,) in enumerate(config.partitions):
                update = shared_update(config, kept, partition)
                exact = shared_update(config, clean, partition).gradient
                store.add(_attack_rows(model, update, client_truth(config, partition), attack,
                                       [image], dict(setting=setting, attack=name,
                                                     client=partition),
                                       epsilon=parts["epsilon"], delta=PRIVACY_DELTA,
                                       change=_relative_error(update.gradient, exact) ** 0.5))
            log(f"privacy {setting}, {name}: {_leaked(store, PRIVACY_CLIENTS)} ({_clock(start)})")
    return store.finish()


IMPRINT_CLIENTS = (2, 4)
IMPRINT_BATCHES = (1, 8, 32)
IMPRINT_BINS = 128
IMPRINT_LR = 1.0
"""The learning rate the malicious server asks for: the clients' steps, and so the bins'
differences, stand ten times further above SecAgg+'s rounding than at 0.1."""


def pool_brightness(side: int = 32) -> tuple[float, float]:
    """The mean and spread of the pool's images' brightness: the public statistics a
    malicious server sets its imprint's thresholds from."""
    values = torch.stack([load_image(image.name, side).pixels.mean() for image in pool()])
    return float(values.mean()), float(values.std())


def imprint(folder: Path = FOLDER, log: Callable[[str], None] = print) -> Path:
    """Robbing the Fed through Flower under SecAgg+: a malicious server's imprint block in
    LeNet (32x32), every client one SGD step on its batch, the server reading images off the
    aggregate. One row per private image: whether a recovered image matches it exactly (MSE
    below the report's threshold) and its gallery scores, from which the course's definition
    decides whether it leaks when the table is read."""
    table = Path(folder) / "imprint.parquet"
    store, rounds, start = _Rows(table), table.with_suffix(".rounds"), time.perf_counter()
    mean, std = pool_brightness()
    names = [image.name for image in pool_sample(max(IMPRINT_CLIENTS) * max(IMPRINT_BATCHES),
                                                 seed=3)]
    for clients in IMPRINT_CLIENTS:
        for batch in IMPRINT_BATCHES:
            key = dict(clients=clients, batch=batch)
            if store.has(**key):
                continue
            config = FederationConfig(
                tuple(tuple(names[c * batch:(c + 1) * batch]) for c in range(clients)),
                lr=IMPRINT_LR, imprint=Imprint(IMPRINT_BINS, mean, std))
            kept = _kept_round(config, rounds / f"n{clients}-b{batch}.pt",
                               secure=SecureAggregation(max_weight=float(batch)))
            pixels, _ = _union(config)
            gradient = aggregate_update(config, kept)
            normalisation = get_spec(config.model).normalisation
            found = normalisation.to_pixels(recover_images(gradient[0], gradient[1], config.side))
            distances = ((found[None] - pixels[:, None]) ** 2).flatten(2).mean(2)
            best = found[distances.argmin(1)].clamp(0, 1)
            rows = image_rows(best, pixels)
            store.add({**key, "image": name, "exact": reconstructed(row["mse"]), "mse": row["mse"],
                       "likeness": row["likeness"], "rank": row["rank"],
                       "lookalike": row["lookalike"],
                       "thumbnail": _png_text(best[i:i + 1]) if i < 8 else None}
                      for i, (name, row) in enumerate(zip(
                          [n for partition in config.partitions for n in partition], rows)))
            log(f"imprint {key}: {_leaked(store, clients * batch)} ({_clock(start)})")
    return store.finish()


MEASUREMENTS: dict[str, Callable[..., Path]] = {"fedavg": fedavg, "secure": secure,
                                                "privacy": privacy, "imprint": imprint}
"""The chapter's measurements, by table name."""


def load_measurement(name: str, folder: Path = FOLDER) -> Any:
    """The stored table ``name`` as a pandas DataFrame, whether each image ``leaks`` derived from
    its scores by the course's one criterion
    (:func:`~dlg_helpers.analysis.criteria.judge_table`).

    Raises:
        FileNotFoundError: naming the command that makes it.
    """
    import pandas as pd

    table = Path(folder) / f"{name}.parquet"
    if not table.is_file():
        raise FileNotFoundError(f"no table at {table}; make it with python -m "
                                f"dlg_helpers.federation.experiments {name}")
    return judge_table(pd.read_parquet(table))


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
    """The FedAvg grid (:func:`fedavg`) by the clients' local work: one local step (federated
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
    """The SecAgg+ table (:func:`secure`) as numbers.

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
    """What one attack recovered under Flower's differential privacy (:func:`privacy`).

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
    """What the stored ``privacy`` table says, by attack (``"DLG"``, ``"inverting
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
    """Robbing the Fed under SecAgg+ (:func:`imprint`) as numbers.

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


def main(argv: list[str] | None = None) -> int:
    """Compute the measurements named on the command line."""
    parser = argparse.ArgumentParser(prog="python -m dlg_helpers.federation.experiments",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", choices=list(MEASUREMENTS))
    parser.add_argument("--folder", type=Path, default=FOLDER)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in args.names:
        path = MEASUREMENTS[name](args.folder, log=lambda line: print(line, file=sys.stderr,
                                                                       flush=True))
        print(f"{name} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
