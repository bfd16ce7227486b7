"""What a curious server recovers from the weights it sent and the weights a client returned.

In federated SGD a client takes one step of plain SGD on its batch, so the weights it returns
are ``w - lr * g``: the server, which knows ``w`` and the learning rate, reads the gradient
``g = (w - w') / lr`` exactly, and hands it to an attack unchanged. With several local steps the
difference is the sum of the steps' gradients, and an attack must model those steps.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["weight_change", "gradient_from_step"]


def weight_change(model: nn.Module, sent: Mapping[str, torch.Tensor],
                  received: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """``sent - received`` for each trainable parameter of ``model``, in the order the attacks
    take a gradient (:func:`~dlg_helpers.client.gradients.shared_gradient`'s).

    Raises:
        KeyError: naming a parameter missing from either set of weights.
    """
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    missing = [n for n in names if n not in sent or n not in received]
    if missing:
        raise KeyError(f"the weights lack {', '.join(missing)}: were they made by another model?")
    return [(sent[n].float() - received[n].float()).detach() for n in names]


def gradient_from_step(model: nn.Module, sent: Mapping[str, torch.Tensor],
                       received: Mapping[str, torch.Tensor], lr: float) -> list[torch.Tensor]:
    """``(sent - received) / lr``: the gradient a client's single SGD step with learning rate
    ``lr`` followed, or the sum of its steps' gradients when it took several."""
    if not lr > 0:
        raise ValueError(f"the learning rate must be positive, got {lr}")
    return [change / lr for change in weight_change(model, sent, received)]
