"""A plain re-implementation of the original DLG loop (Zhu et al. 2019), kept as a baseline.

No early stop, no divergence check, no restarts: 300 L-BFGS steps from one random start, as the
paper's notebook does. The benchmark and the LeNet chapter compare the engine against it
(:mod:`dlg_helpers.analysis.original`); it is not meant for new work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..client.victim import SharedUpdate
from .labels import classifier_gradient
from .objective import gradient_distance
from .observer import Observer

__all__ = ["BaselineStep", "original_dlg"]


@dataclass(frozen=True)
class BaselineStep:
    """What the baseline saw after one outer L-BFGS step."""

    grad_distance: float
    mse: float
    evaluations: int
    seconds: float


def original_dlg(model: nn.Module, update: SharedUpdate, observer: Observer,
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
