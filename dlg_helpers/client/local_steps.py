"""A client's local work in federated averaging: plain SGD steps on its own images, and the
update it sends.

In federated SGD a client takes one step and its weights change by ``lr`` times its gradient.
In federated averaging (FedAvg) it takes several (``epochs`` passes over batches of ``batch``),
and what reaches the server is the sum of those steps, each at a different point of the weights.
The server chose the learning rate, the epochs and the batch size, and the client reports how
many examples it holds: :class:`LocalSteps` is what the server knows. :func:`local_update` is the
one place those steps are taken, by the client on its images and by an attacker that simulates
them on its guesses (Geiping et al. 2020, section 6): written functionally, so the attacker can
differentiate through every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from .gradients import classification_loss

__all__ = ["LocalSteps", "local_update"]


@dataclass(frozen=True)
class LocalSteps:
    """The local training a server asks of its clients (all of it public).

    Attributes:
        lr: the clients' SGD learning rate.
        epochs: passes over a client's images per round.
        batch: images per SGD step (None: all of a client's images, one step per epoch).
    """

    lr: float
    epochs: int = 1
    batch: int | None = None

    def __post_init__(self) -> None:
        if not self.lr > 0 or self.epochs < 1 or (self.batch is not None and self.batch < 1):
            raise ValueError(f"local steps need lr > 0, epochs >= 1 and batch >= 1 (or None), "
                             f"got {self}")

    def count(self, examples: int) -> int:
        """The SGD steps a client with ``examples`` images takes in one round."""
        batch = self.batch or examples
        return self.epochs * -(-examples // batch)

    def single(self, examples: int) -> bool:
        """Whether a client with ``examples`` images takes one step (federated SGD)."""
        return self.count(examples) == 1


def local_update(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                 steps: LocalSteps, create_graph: bool = False) -> list[torch.Tensor]:
    """The weights' change of one round of local SGD divided by the learning rate,
    ``(w_before - w_after) / lr``, one tensor per trainable parameter of ``model`` (the order
    of :func:`~dlg_helpers.client.gradients.shared_gradient`). For a single step it is the
    gradient; for several, the sum of the steps' gradients. ``model`` is left unchanged.

    Args:
        inputs: the client's images as the model takes them, in the order it visits them (no
            shuffling: an attacker that simulates the steps assumes that order).
        targets: class indices or soft labels, one per image.
        create_graph: keep the graph through every step (an attacker differentiating the
            update with respect to its guessed images needs it).
    """
    named = {name: p for name, p in model.named_parameters() if p.requires_grad}
    weights = dict(named)
    batch = steps.batch or len(inputs)
    for _ in range(steps.epochs):
        for start in range(0, len(inputs), batch):
            outputs = functional_call(model, weights, (inputs[start:start + batch],))
            loss = classification_loss(outputs, targets[start:start + batch])
            grads = torch.autograd.grad(loss, list(weights.values()), create_graph=create_graph)
            weights = {name: w - steps.lr * g for (name, w), g in zip(weights.items(), grads)}
    change = [(named[name] - weights[name]) / steps.lr for name in named]
    return change if create_graph else [c.detach() for c in change]
