"""Probes of what the gradient shows: how far a change of the private image moves its gradient."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ..attack.objective import gradient_distance
from ..client.gradients import shared_gradient
from ..client.victim import victim
from ..measures.metrics import mse

__all__ = ["uniform_noise", "gradient_gaps", "relative_gradient_gap"]


def uniform_noise(seed: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """A change for :func:`gradient_gaps`: replace the image by uniform noise in [0, 1] of its
    shape, drawn from ``seed`` (the same noise every call)."""
    return lambda pixels: torch.rand(pixels.shape, generator=torch.Generator().manual_seed(seed))


def gradient_gaps(model: str, image: str, changes: Mapping[str, Callable[[torch.Tensor],
                                                                        torch.Tensor]],
                  seed: int = 0, size: int | None = None) -> list[dict[str, Any]]:
    """How far each change of the private image moves its gradient, and how far its pixels.

    For every named change (a function of the (1, 3, H, W) pixels), the image MSE and the
    :func:`~dlg_helpers.analysis.probes.relative_gradient_gap` on ``model`` (random weights
    ``seed``),
    with the image at side ``size`` (None: the model's own).
    """
    client = victim(model, image, seed, size)
    rows = []
    for name, change in changes.items():
        other = change(client.pixels)
        rows.append({"model": model, "change": name, "mse": mse(other, client.pixels),
                     "gap": relative_gradient_gap(
                         client.model, client.inputs,
                         client.normalisation.to_model_input(other), client.labels)})
    return rows


def relative_gradient_gap(model: nn.Module, inputs: torch.Tensor, other: torch.Tensor,
                          labels: torch.Tensor) -> float:
    """How differently two inputs look to a gradient-matching attacker.

    The gradient distance between the gradients of ``other`` and of ``inputs`` (same labels),
    as a fraction of the squared norm of the gradient of ``inputs``: 0 means the attacker cannot
    tell them apart at all.
    """
    reference = shared_gradient(model, inputs, labels)
    gap = gradient_distance(shared_gradient(model, other, labels), reference)
    return float(gap / sum((g ** 2).sum() for g in reference))
