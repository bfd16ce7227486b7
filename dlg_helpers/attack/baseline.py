"""A plain re-implementation of the original DLG loop (Zhu et al. 2019), kept as a baseline, and
its comparison with the engine.

No early stop, no divergence check, no restarts: 300 L-BFGS steps from one random start, as the
paper's notebook does. The benchmark and the LeNet chapter compare :mod:`dlg_helpers.attack`
against it; it is not meant for new work.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..analysis.criteria import RECONSTRUCTED_MSE
from ..analysis.observer import GroundTruth
from ..client.images import load_image
from ..client.models import build_model, get_spec
from ..client.victim import SharedUpdate, Victim
from .config import AttackConfig
from .engine import reconstruct
from .labels import classifier_gradient
from .objective import gradient_distance
from .trace import AttackResult

__all__ = ["BaselineStep", "original_dlg", "OriginalVsEngine", "compare_with_original"]


@dataclass(frozen=True)
class BaselineStep:
    """What the baseline saw after one outer L-BFGS step."""

    grad_distance: float
    mse: float
    evaluations: int
    seconds: float


def original_dlg(model: nn.Module, update: SharedUpdate, observer: GroundTruth,
                 steps: int = 300, seed: int = 0) -> tuple[torch.Tensor, list[BaselineStep]]:
    """Run the original DLG loop against ``model`` on a client's ``update`` (one image).

    The model must take [0, 1] pixels directly (LeNet does). The dummy image and soft label come
    from ``torch.manual_seed(seed)`` as in the paper's code; ``observer`` measures each step's
    image against the private one, as the engine's does. Returns the final dummy image and one
    :class:`BaselineStep` per step, measured after the step.
    """
    parameters = list(model.parameters())
    true_grads = update.gradient
    device = next(model.parameters()).device
    num_classes = classifier_gradient(model, true_grads)[0].shape[0]

    torch.manual_seed(seed)
    dummy_data = torch.randn(update.input_shape, device=device).requires_grad_(True)
    dummy_label = torch.randn((1, num_classes), device=device).requires_grad_(True)
    optimizer = torch.optim.LBFGS([dummy_data, dummy_label])
    evaluations = 0

    def closure() -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad()
        dummy_loss = F.cross_entropy(model(dummy_data), F.softmax(dummy_label, dim=-1))
        dummy_grads = torch.autograd.grad(dummy_loss, parameters, create_graph=True)
        distance = gradient_distance(list(dummy_grads), true_grads)
        distance.backward()
        return distance

    history: list[BaselineStep] = []
    start = time.perf_counter()
    for _ in range(steps):
        distance = optimizer.step(closure)
        history.append(BaselineStep(grad_distance=float(distance.detach()),
                                    mse=observer.measure(dummy_data.detach())[0],
                                    evaluations=evaluations,
                                    seconds=time.perf_counter() - start))
    return dummy_data.detach(), history


@dataclass(frozen=True)
class OriginalVsEngine:
    """The original DLG loop and the engine, run on the same LeNet, image and seed."""

    seed: int
    original: list[BaselineStep]
    engine: AttackResult
    threshold: float = RECONSTRUCTED_MSE

    @property
    def original_mse(self) -> float:
        return self.original[-1].mse

    @property
    def original_reconstructed(self) -> bool:
        return self.original_mse < self.threshold

    @property
    def engine_reconstructed(self) -> bool:
        return self.engine.final_mse < self.threshold and self.engine.label_correct

    def original_seconds_to_threshold(self) -> float | None:
        return next((s.seconds for s in self.original if s.mse < self.threshold), None)

    def engine_seconds_to_threshold(self) -> float | None:
        return next((r.seconds for r in self.engine.history if r.mse < self.threshold), None)

    def original_rate_over_engine_steps(self) -> float:
        """Evaluations per second of the original over as many steps as the engine took.

        Late steps of a converged L-BFGS run skip the direction update and are cheaper per
        evaluation, so rates are compared over the same stretch of steps.
        """
        step = self.original[min(self.engine.steps, len(self.original)) - 1]
        return step.evaluations / step.seconds

    def engine_rate(self) -> float:
        return self.engine.evaluations / self.engine.wall_seconds


def compare_with_original(image: str, seeds: Iterable[int],
                          config: AttackConfig = AttackConfig(),
                          engine_runs: Mapping[int, AttackResult] | None = None
                          ) -> list[OriginalVsEngine]:
    """For each seed, the original 300-step loop and then the engine on LeNet (seeded weights).

    Both draw their first random start from the seed, so the engine follows the original's
    trajectory until it stops or restarts. ``engine_runs`` gives the engine's run of a seed
    when it is already at hand (a stored run of ``config`` with that seed); the rest are
    computed.
    """
    sample = load_image(image, get_spec("lenet").image_size)
    known = engine_runs or {}
    comparisons = []
    for seed in tqdm(list(seeds), desc="original vs engine", unit="seed", mininterval=1.0):
        network = build_model("lenet", seed=seed)
        victim = Victim(network, sample.pixels, sample.label)
        _, original = original_dlg(network, victim.share(), victim.ground_truth(),
                                   steps=config.steps,
                                   seed=seed)
        engine = known[seed] if seed in known else reconstruct(
            network, sample.pixels, sample.label, replace(config, seed=seed))
        comparisons.append(OriginalVsEngine(seed=seed, original=original, engine=engine))
    return comparisons
