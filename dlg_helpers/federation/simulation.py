"""A Flower federation of the course's clients, with a server that keeps what it receives.

Each client is a Flower ``ClientApp`` that holds its private images (its partition), trains the
shared model on them with plain SGD (``local_epochs`` passes over batches of ``local_batch``;
one pass over one batch is federated SGD) and returns its weights with the number of examples.
The server is a Flower ``ServerApp`` whose strategy is FedAvg, honest but curious: it aggregates
as FedAvg does, and first keeps the weights it sent and every client's reply, by the client's
partition. :func:`run_federation` runs that federation in Flower's simulation runtime (on Ray),
with one CPU per client, Flower's and Ray's folders inside the run's folder, quiet logs, and
every process it starts ended when it returns.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..client.images import load_image
from ..client.local_steps import LocalSteps, local_update
from ..client.models import build_model, get_spec
from ..client.victim import SharedUpdate
from ..measures.observer import GroundTruth
from ..ray_state import ray_folder
from .imprint import Imprint, imprinted_model
from .recover import gradient_from_step

__all__ = ["FederationConfig", "FederationRound", "local_training", "simulate", "check_kept",
           "run_federation", "shared_update", "client_data", "client_truth"]


@dataclass(frozen=True)
class FederationConfig:
    """A federation of clients training a registered model.

    Attributes:
        partitions: each client's private images, by name (client ``i`` holds ``partitions[i]``).
        model: the registered model the server sends.
        seed: the seed of the server's initial weights.
        lr: the clients' SGD learning rate (public: the server sets it).
        local_epochs: passes over its images a client makes per round.
        local_batch: images per local SGD step (None: all of a client's images, one batch).
        rounds: federated rounds.
        size: image side (None: the model's own).
        imprint: the malicious server's imprint block in front of the model
            (:mod:`.imprint`; None: the honest model).
    """

    partitions: tuple[tuple[str, ...], ...]
    model: str = "lenet"
    seed: int = 0
    lr: float = 0.1
    local_epochs: int = 1
    local_batch: int | None = None
    rounds: int = 1
    size: int | None = None
    imprint: Imprint | None = None

    @property
    def side(self) -> int:
        """The images' side in pixels."""
        return self.size or get_spec(self.model).image_size

    def build(self) -> torch.nn.Module:
        """The model the server sends, with its initial weights (the clients' code builds the
        same architecture and loads the weights sent)."""
        model = build_model(self.model, seed=self.seed, size=self.size)
        return model if self.imprint is None else imprinted_model(model, self.imprint, self.side)

    @property
    def local_steps(self) -> LocalSteps:
        """The local training the server asks of every client."""
        return LocalSteps(self.lr, self.local_epochs, self.local_batch)

    def __post_init__(self) -> None:
        if len(self.partitions) < 2 or not all(self.partitions):
            raise ValueError("a federation needs at least two clients, each with an image")
        if self.local_epochs < 1 or self.rounds < 1 or not self.lr > 0:
            raise ValueError("local_epochs and rounds must be at least 1, lr positive")
        if self.local_batch is not None and self.local_batch < 1:
            raise ValueError("local_batch must be at least 1 (None: all a client's images)")


@dataclass
class FederationRound:
    """What the curious server kept in one round.

    Attributes:
        sent: the weights the server sent to every client.
        replies: each client's returned weights, by partition.
        examples: the number of examples each client reported, by partition.
        aggregate: the weights the strategy aggregated them to (under secure aggregation, all
            the server ever sees of the weights; None where it was not kept).
    """

    sent: dict[str, torch.Tensor]
    replies: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    examples: dict[int, int] = field(default_factory=dict)
    aggregate: dict[str, torch.Tensor] | None = None


def local_training(model: torch.nn.Module, pixels: torch.Tensor, labels: torch.Tensor,
                   config: FederationConfig) -> None:
    """A client's work in one round, done to ``model`` in place: the local SGD steps of
    :func:`~dlg_helpers.client.local_steps.local_update` on its images, in their order."""
    inputs = get_spec(config.model).normalisation.to_model_input(pixels)
    change = local_update(model, inputs, labels, config.local_steps)
    with torch.no_grad():
        trainable = [p for p in model.parameters() if p.requires_grad]
        for parameter, step in zip(trainable, change, strict=True):
            parameter -= config.lr * step


def client_data(config: FederationConfig, partition: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Client ``partition``'s private images (pixels in [0, 1]) and their labels."""
    side = config.side
    samples = [load_image(name, side) for name in config.partitions[partition]]
    return (torch.cat([s.pixels for s in samples]),
            torch.tensor([s.label for s in samples]))


def _apps(config: FederationConfig, kept: list[FederationRound]):
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg

    client_app = ClientApp()

    @client_app.train()
    def train(message: Message, context: Context) -> Message:
        partition = int(context.node_config["partition-id"])
        model = config.build()
        model.load_state_dict(message.content["arrays"].to_torch_state_dict())
        pixels, labels = client_data(config, partition)
        local_training(model, pixels, labels, config)
        return Message(RecordDict({
            "arrays": ArrayRecord(model.state_dict()),
            "metrics": MetricRecord({"num-examples": len(pixels), "partition-id": partition})}),
            reply_to=message)

    class CuriousFedAvg(FedAvg):
        """FedAvg that keeps the weights it sends and every reply before aggregating."""

        def configure_train(self, server_round, arrays, train_config, grid):
            kept.append(FederationRound(sent={k: v.clone() for k, v in
                                              arrays.to_torch_state_dict().items()}))
            return super().configure_train(server_round, arrays, train_config, grid)

        def aggregate_train(self, server_round, replies):
            replies = list(replies)
            for reply in replies:
                if reply.has_content():
                    metrics = reply.content["metrics"]
                    partition = int(metrics["partition-id"])
                    kept[-1].replies[partition] = reply.content["arrays"].to_torch_state_dict()
                    kept[-1].examples[partition] = int(metrics["num-examples"])
            return super().aggregate_train(server_round, replies)

    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        clients = len(config.partitions)
        strategy = CuriousFedAvg(fraction_train=1.0, fraction_evaluate=0.0,
                                 min_train_nodes=clients, min_available_nodes=clients)
        model = config.build()
        strategy.start(grid=grid, initial_arrays=ArrayRecord(model.state_dict()),
                       num_rounds=config.rounds, train_config=ConfigRecord({"lr": config.lr}))

    return server_app, client_app


_RAY_GPU_NOTICE = "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO"


def simulate(server_app: Any, client_app: Any, clients: int, folder: str | Path) -> None:
    """Run a Flower ``server_app`` with ``clients`` simulated clients of ``client_app`` in
    Flower's simulation runtime (on Ray), one CPU per client.

    Flower's and Ray's files go under ``folder``, their logs stay quiet, and the Ray session is
    shut down before this returns, so no process started here outlives it.
    """
    from flwr.common.logger import FLOWER_LOGGER
    from flwr.simulation import run_simulation

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = {key: os.environ.get(key) for key in ("FLWR_HOME", "RAY_TMPDIR", _RAY_GPU_NOTICE)}
    level = FLOWER_LOGGER.level
    # The book shows results, not Flower's round log nor its notice that run_simulation is
    # deprecated (it is the simulation entry point that runs in a notebook).
    FLOWER_LOGGER.setLevel(logging.ERROR)
    try:
        with ray_folder(folder) as ray_dir:
            os.environ["FLWR_HOME"] = str((folder / "flwr").resolve())
            os.environ["RAY_TMPDIR"] = ray_dir
            os.environ[_RAY_GPU_NOTICE] = "0"  # no GPUs asked for: keep Ray's notice quiet
            run_simulation(
                server_app=server_app, client_app=client_app, num_supernodes=clients,
                backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                "init_args": {"num_cpus": min(clients, os.cpu_count() or 1),
                                              "num_gpus": 0, "logging_level": "ERROR",
                                              "log_to_driver": False,
                                              "_temp_dir": ray_dir}})
    finally:
        FLOWER_LOGGER.setLevel(level)
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        import ray

        if ray.is_initialized():
            ray.shutdown()


def check_kept(config: FederationConfig, kept: list[FederationRound]) -> list[FederationRound]:
    """``kept`` when it holds every round and every client's reply.

    Raises:
        RuntimeError: when a round lacks replies (Flower logs a failed client as a warning).
    """
    incomplete = [r for r in kept if len(r.examples) != len(config.partitions)]
    if incomplete or len(kept) != config.rounds:
        raise RuntimeError(f"{len(incomplete)} of {len(kept)} rounds lack replies from some "
                           "clients; see Flower's warnings above (memory, or a client's error)")
    return kept


def run_federation(config: FederationConfig, folder: str | Path) -> list[FederationRound]:
    """Run the federation ``config`` describes (:func:`simulate`) and return what the curious
    server kept in each round."""
    kept: list[FederationRound] = []
    server_app, client_app = _apps(config, kept)
    simulate(server_app, client_app, len(config.partitions), folder)
    return check_kept(config, kept)


def shared_update(config: FederationConfig, kept: FederationRound, partition: int) -> SharedUpdate:
    """What a curious server hands an attack for client ``partition``: the weights' change
    divided by the learning rate (for federated SGD, the gradient of its batch), with the
    public facts: its number of examples, reported beside the weights, the model's input
    shape and, when the client took several steps, the local training the server asked for
    (an attack then simulates those steps; drop them, ``replace(update, local_steps=None)``,
    for the attacker that assumes one step)."""
    model = config.build()
    side = config.side
    examples = kept.examples[partition]
    steps = config.local_steps
    return SharedUpdate(gradient=gradient_from_step(model, kept.sent, kept.replies[partition],
                                                    config.lr),
                        examples=examples, input_shape=(examples, 3, side, side),
                        local_steps=None if steps.single(examples) else steps)


def client_truth(config: FederationConfig, partition: int) -> GroundTruth:
    """Client ``partition``'s private images and labels, for the metrics only (the server never
    has them)."""
    pixels, labels = client_data(config, partition)
    return GroundTruth(pixels, labels)
