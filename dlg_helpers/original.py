"""A plain re-implementation of the original DLG loop (Zhu et al. 2019), kept as a baseline.

No early stop, no divergence check, no restarts: 300 L-BFGS steps from one random start, as the
paper's notebook does. The benchmark and the LeNet chapter compare :mod:`dlg_helpers.attack`
against it; it is not meant for new work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .gradients import gradient_distance, shared_gradient
from .metrics import mse

__all__ = ["BaselineStep", "original_dlg"]


@dataclass(frozen=True)
class BaselineStep:
    """What the baseline saw after one outer L-BFGS step."""

    grad_distance: float
    mse: float
    evaluations: int
    seconds: float


def original_dlg(model: nn.Module, pixels: torch.Tensor, label: int, steps: int = 300,
                 seed: int = 0) -> tuple[torch.Tensor, list[BaselineStep]]:
    """Run the original DLG loop against ``model`` on one [0, 1] image of shape (1, 3, H, W).

    The model must take [0, 1] pixels directly (LeNet does). The dummy image and soft label come
    from ``torch.manual_seed(seed)`` as in the paper's code. Returns the final dummy image and
    one :class:`BaselineStep` per step, measured after the step.
    """
    parameters = list(model.parameters())
    true_grads = shared_gradient(model, pixels, torch.tensor([label], device=pixels.device))
    num_classes = model(pixels).shape[-1]

    torch.manual_seed(seed)
    dummy_data = torch.randn(pixels.size(), device=pixels.device).requires_grad_(True)
    dummy_label = torch.randn((1, num_classes), device=pixels.device).requires_grad_(True)
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
                                    mse=mse(dummy_data.detach(), pixels),
                                    evaluations=evaluations,
                                    seconds=time.perf_counter() - start))
    return dummy_data.detach(), history
