"""The federation of :mod:`.simulation` spoken in Flower's legacy protocol, which its secure
aggregation and its differential-privacy mods need.

In Flower 1.42, SecAgg+ runs only through the legacy server workflow (``DefaultWorkflow`` with a
``SecAggPlusWorkflow`` and a ``LegacyContext``), and the client-side mods (``secaggplus_mod``,
``LocalDpMod``, ``fixedclipping_mod``) read and write the legacy ``fitins``/``fitres`` records.
So these federations use a legacy ``NumPyClient`` and a legacy ``FedAvg``, made curious the same
way: the strategy keeps the weights it sends, every reply it is given (by the client's
partition, which travels in the reply's metrics) and the aggregate. The clients' local work is
the same :func:`~dlg_helpers.federation.simulation.local_training`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .simulation import (FederationConfig, FederationRound, check_kept, client_data,
                         local_training, simulate)

__all__ = ["SecureAggregation", "run_legacy_federation", "aggregate_update"]


@dataclass(frozen=True)
class SecureAggregation:
    """Flower's SecAgg+ settings (its defaults but for the share counts).

    Each client scales its weights by ``num_examples / max_weight``, clips them to
    ``clipping_range`` and rounds them stochastically onto ``quantization_range`` levels before
    masking; the server unmasks only the sum. ``max_weight`` should be near the largest
    ``num_examples``: the default 1,000 scales a one-image client's weights by 1e-3, so the
    rounding step becomes large against one SGD step's change.
    """

    max_weight: float = 1000.0
    clipping_range: float = 8.0
    quantization_range: int = 4194304

    def workflow(self) -> Any:
        """Flower's server workflow: every client shares its secrets with every other (a
        share of 1.0 of them), and half of them can reconstruct a dropped one's."""
        from flwr.server.workflow import SecAggPlusWorkflow

        return SecAggPlusWorkflow(num_shares=1.0, reconstruction_threshold=0.5,
                                  max_weight=self.max_weight, clipping_range=self.clipping_range,
                                  quantization_range=self.quantization_range)

    def rounding_step(self, examples: int) -> float:
        """The spacing of the levels a client's weights are rounded to, in weight units."""
        return 2 * self.clipping_range / (self.quantization_range - 1) * self.max_weight / examples


def _state(model: torch.nn.Module, arrays: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
    return {name: torch.as_tensor(np.asarray(a, dtype=np.float32)).reshape(value.shape)
            for (name, value), a in zip(model.state_dict().items(), arrays, strict=True)}


def _apps(config: FederationConfig, kept: list[FederationRound], secure: SecureAggregation | None,
          client_mods: Sequence[Callable], wrap: Callable[[Any], Any] | None) -> tuple[Any, Any]:
    from flwr.client import ClientApp, NumPyClient
    from flwr.client.mod import secaggplus_mod
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server import LegacyContext, ServerApp, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow

    template = config.build()

    class Client(NumPyClient):
        def __init__(self, partition: int) -> None:
            self.partition = partition

        def fit(self, parameters, fit_config):
            model = config.build()
            model.load_state_dict(_state(model, parameters))
            pixels, labels = client_data(config, self.partition)
            local_training(model, pixels, labels, config)
            return ([v.detach().numpy() for v in model.state_dict().values()], len(pixels),
                    {"partition-id": self.partition})

    def client_fn(context):
        return Client(int(context.node_config["partition-id"])).to_client()

    mods = ([secaggplus_mod] if secure is not None else []) + list(client_mods)
    client_app = ClientApp(client_fn=client_fn, mods=mods)

    class CuriousFedAvg(FedAvg):
        """Legacy FedAvg that keeps what it sends, what it is given, and what it makes of it."""

        def configure_fit(self, server_round, parameters, client_manager):
            kept.append(FederationRound(sent=_state(template, parameters_to_ndarrays(parameters))))
            return super().configure_fit(server_round, parameters, client_manager)

        def aggregate_fit(self, server_round, results, failures):
            for _, fit_res in results:
                partition = int(fit_res.metrics["partition-id"])
                kept[-1].replies[partition] = _state(template,
                                                     parameters_to_ndarrays(fit_res.parameters))
                kept[-1].examples[partition] = int(fit_res.num_examples)
            aggregated, metrics = super().aggregate_fit(server_round, results, failures)
            if aggregated is not None:
                kept[-1].aggregate = _state(template, parameters_to_ndarrays(aggregated))
            return aggregated, metrics

    clients = len(config.partitions)
    strategy: Any = CuriousFedAvg(
        fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=clients,
        min_available_clients=clients, on_fit_config_fn=lambda _: {"lr": config.lr},
        initial_parameters=ndarrays_to_parameters(
            [v.detach().numpy() for v in template.state_dict().values()]))
    if wrap is not None:
        strategy = wrap(strategy)
    server_app = ServerApp()

    @server_app.main()
    def main(grid, context) -> None:
        legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=config.rounds),
                               strategy=strategy)
        workflow = (DefaultWorkflow() if secure is None else
                    DefaultWorkflow(fit_workflow=secure.workflow()))
        workflow(grid, legacy)

    return server_app, client_app


def run_legacy_federation(config: FederationConfig, folder: str | Path, *,
                          secure: SecureAggregation | None = None,
                          client_mods: Sequence[Callable] = (),
                          wrap: Callable[[Any], Any] | None = None) -> list[FederationRound]:
    """Run ``config``'s federation through Flower's legacy protocol and return what the curious
    strategy kept in each round.

    Args:
        secure: aggregate with SecAgg+ (the strategy is then given only the unmasked aggregate,
            once per client; ``num_examples`` and metrics still arrive per client in clear).
        client_mods: Flower client mods run around every client's training (``LocalDpMod``,
            ``fixedclipping_mod``), after SecAgg+'s.
        wrap: wraps the curious strategy (Flower's differential-privacy strategy wrappers).
    """
    kept: list[FederationRound] = []
    server_app, client_app = _apps(config, kept, secure, client_mods, wrap)
    simulate(server_app, client_app, len(config.partitions), folder)
    return check_kept(config, kept)


def aggregate_update(config: FederationConfig, kept: FederationRound) -> list[torch.Tensor]:
    """The aggregate's change from the weights sent, divided by the learning rate: for a
    federated-SGD round, the gradient of the mean loss over every client's images (each client
    weighted by its examples).

    Raises:
        ValueError: when the round kept no aggregate.
    """
    from .recover import gradient_from_step

    if kept.aggregate is None:
        raise ValueError("this round kept no aggregate; run it with run_legacy_federation")
    model = config.build()
    return gradient_from_step(model, kept.sent, kept.aggregate, config.lr)
