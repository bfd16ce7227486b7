"""The federation chapter's measurements, each stored as one table and resumable.

``python -m dlg_helpers.runs.federation_plan NAME`` computes one measurement into
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

What each table says is read off as numbers and verdicts in
:mod:`~dlg_helpers.analysis.federation_outcomes`; the chapter writes the words.

:func:`through_flower` is the chapter's live demonstration: one round, attacked from Flower's
weights and from the gradient itself.
"""

from __future__ import annotations

import base64
import io
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ..attack.config import AttackConfig
from ..attack.engine import Attack
from ..attack.objective import gradient_distance
from ..client.gradients import shared_gradient
from ..client.images import load_image
from ..client.models import get_spec
from ..client.pool import distinct_label_batches, pool, pool_sample
from ..client.victim import SharedUpdate
from ..measures.criteria import judge_table, leaks, reconstructed
from ..measures.metrics import match_batch
from ..measures.observer import GroundTruth
from ..measures.rows import image_rows
from ..federation.imprint import Imprint, recover_images
from ..federation.legacy import SecureAggregation, aggregate_update, run_legacy_federation
from ..federation.simulation import (FederationConfig, FederationRound, client_data, client_truth,
                                     run_federation, shared_update)
from .record import save_png
from .table import ResumableTable, plan_main, read_table

__all__ = ["FOLDER", "FEDAVG_EPOCHS", "FEDAVG_BATCHES", "FEDAVG_CLIENTS", "CLIENT_IMAGES",
           "FEDAVG_SIZE", "FEDAVG_LR", "FEDAVG_ATTACK", "MULTI_STEP", "SINGLE_STEP", "through_flower",
           "fedavg_partitions", "single_step_view", "fedavg", "load_measurement", "MEASUREMENTS",
           "main"]

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


def _finish(store: ResumableTable) -> Path:
    """Gather the rows into the table, thumbnails decoded, and drop the kept Flower rounds,
    needed only to resume."""
    table = store.finish({"thumbnail": lambda text: base64.b64decode(text)
                          if isinstance(text, str) else None})
    shutil.rmtree(table.with_suffix(".rounds"), ignore_errors=True)
    return table


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


def _leaked(store: ResumableTable, count: int) -> str:
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
    from ..measures.rows import result_row
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
    store = ResumableTable(table)
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
    return _finish(store)


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
    store, rounds, start = ResumableTable(table), table.with_suffix(".rounds"), time.perf_counter()
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
    return _finish(store)


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
    "iDLG": SECURE_ATTACK,
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
    store, rounds, start = ResumableTable(table), table.with_suffix(".rounds"), time.perf_counter()
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
    return _finish(store)


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
    store, rounds, start = ResumableTable(table), table.with_suffix(".rounds"), time.perf_counter()
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
    return _finish(store)


MEASUREMENTS: dict[str, Callable[..., Path]] = {"fedavg": fedavg, "secure": secure,
                                                "privacy": privacy, "imprint": imprint}
"""The chapter's measurements, by table name."""


def load_measurement(name: str, folder: Path = FOLDER) -> Any:
    """The stored table ``name`` as a pandas DataFrame, whether each image ``leaks`` derived from
    its scores by the course's one criterion
    (:func:`~dlg_helpers.measures.criteria.judge_table`).

    Raises:
        FileNotFoundError: naming the command that makes it.
    """
    return judge_table(read_table(folder, name, "python -m dlg_helpers.runs.federation_plan"))


def main(argv: list[str] | None = None) -> int:
    """Compute the measurements named on the command line."""
    return plan_main("python -m dlg_helpers.runs.federation_plan", __doc__.split("\n\n")[0],
                     MEASUREMENTS, FOLDER, argv)


if __name__ == "__main__":
    raise SystemExit(main())
