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

import torch

from ..analysis.observer import GroundTruth
from ..client.gradients import classification_loss
from ..client.images import load_image
from ..client.models import build_model, get_spec
from ..client.victim import SharedUpdate
from ..ray_state import ray_folder
from .recover import gradient_from_step

__all__ = ["FederationConfig", "FederationRound", "local_training", "run_federation",
           "shared_update", "client_truth"]


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
    """

    partitions: tuple[tuple[str, ...], ...]
    model: str = "lenet"
    seed: int = 0
    lr: float = 0.1
    local_epochs: int = 1
    local_batch: int | None = None
    rounds: int = 1
    size: int | None = None

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
    """

    sent: dict[str, torch.Tensor]
    replies: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    examples: dict[int, int] = field(default_factory=dict)


def local_training(model: torch.nn.Module, pixels: torch.Tensor, labels: torch.Tensor,
                   config: FederationConfig) -> None:
    """A client's work in one round: plain SGD on its images, ``local_epochs`` passes over
    batches of ``local_batch`` in their order (no shuffling: the attack that models local steps
    needs to know them)."""
    optimiser = torch.optim.SGD(model.parameters(), lr=config.lr)
    batch = config.local_batch or len(pixels)
    inputs = get_spec(config.model).normalisation.to_model_input(pixels)
    for _ in range(config.local_epochs):
        for start in range(0, len(pixels), batch):
            optimiser.zero_grad()
            classification_loss(model(inputs[start:start + batch]),
                                labels[start:start + batch]).backward()
            optimiser.step()


def _client_images(config: FederationConfig, partition: int) -> tuple[torch.Tensor, torch.Tensor]:
    side = config.size or get_spec(config.model).image_size
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
        model = build_model(config.model, seed=config.seed, size=config.size)
        model.load_state_dict(message.content["arrays"].to_torch_state_dict())
        pixels, labels = _client_images(config, partition)
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
        model = build_model(config.model, seed=config.seed, size=config.size)
        strategy.start(grid=grid, initial_arrays=ArrayRecord(model.state_dict()),
                       num_rounds=config.rounds, train_config=ConfigRecord({"lr": config.lr}))

    return server_app, client_app


def run_federation(config: FederationConfig, folder: str | Path) -> list[FederationRound]:
    """Run the federation ``config`` describes in Flower's simulation runtime, one CPU per
    client, and return what the curious server kept in each round.

    Flower's and Ray's files go under ``folder``; the Ray session is shut down before this
    returns, so no process started here outlives it.
    """
    from flwr.common.logger import FLOWER_LOGGER
    from flwr.simulation import run_simulation

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kept: list[FederationRound] = []
    server_app, client_app = _apps(config, kept)
    previous = {key: os.environ.get(key) for key in ("FLWR_HOME", "RAY_TMPDIR")}
    level = FLOWER_LOGGER.level
    FLOWER_LOGGER.setLevel(logging.WARNING)  # the book shows results, not Flower's round log
    try:
        with ray_folder(folder) as ray_dir:
            os.environ["FLWR_HOME"] = str((folder / "flwr").resolve())
            os.environ["RAY_TMPDIR"] = ray_dir
            run_simulation(
                server_app=server_app, client_app=client_app,
                num_supernodes=len(config.partitions),
                backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                "init_args": {"num_cpus": min(len(config.partitions),
                                                              os.cpu_count() or 1),
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
    incomplete = [r for r in kept if len(r.replies) != len(config.partitions)]
    if incomplete or len(kept) != config.rounds:
        raise RuntimeError(f"{len(incomplete)} of {len(kept)} rounds lack replies from some "
                           "clients; see Flower's warnings above (memory, or a client's error)")
    return kept



def shared_update(config: FederationConfig, kept: FederationRound, partition: int) -> SharedUpdate:
    """What a curious server hands an attack for client ``partition`` of a federated-SGD
    round: the gradient read off its one SGD step, with the public facts (its number of
    examples, reported beside the weights, and the model's input shape).

    Raises:
        ValueError: when the clients took more than one local step (the weights' change is then
            not one gradient; an attack must model the steps).
    """
    if config.local_epochs != 1 or (config.local_batch or 0) not in (
            0, len(config.partitions[partition])):
        raise ValueError("with several local steps the change of the weights is not one "
                         "gradient; use weight_change and an attack that models the steps")
    model = build_model(config.model, seed=config.seed, size=config.size)
    side = config.size or get_spec(config.model).image_size
    examples = kept.examples[partition]
    return SharedUpdate(gradient=gradient_from_step(model, kept.sent, kept.replies[partition],
                                                    config.lr),
                        examples=examples, input_shape=(examples, 3, side, side))


def client_truth(config: FederationConfig, partition: int) -> GroundTruth:
    """Client ``partition``'s private images and labels, for the metrics only (the server never
    has them)."""
    pixels, labels = _client_images(config, partition)
    return GroundTruth(pixels, labels)
