"""What the attacker minimises: the distance between the gradient of a guess and the shared one,
plus what it believes about images before seeing any gradient (a total-variation prior).

Gradient matching alone is ill-posed for large models: many inputs give nearly the same gradient.
A prior picks, among them, the ones that look like photographs. Geiping et al. (2020) use total
variation: natural images are mostly smooth, noise is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..client.gradients import classification_loss
from ..client.local_steps import LocalSteps, local_update
from .structured import LinearTaps, LinearTerms, target_terms

if TYPE_CHECKING:  # the settings module validates against DISTANCES, defined here
    from .config import AttackConfig

__all__ = ["total_variation", "gradient_distance", "cosine_distance", "DISTANCES"]


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """The mean absolute difference between horizontally and vertically neighbouring pixels.

    Args:
        images: a batch of shape (B, C, H, W), on any scale.

    Returns:
        A scalar: 0 for a flat image, larger the noisier it is.
    """
    if images.dim() != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    across = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    down = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    return across + down


class _Objective:
    """The matching objective with a counter and a memory of the best point it has seen.

    The best point is judged by the gradient distance alone, what the attacker can measure
    (the prior says what the attacker hopes, not what it has matched).
    """

    def __init__(self, model: nn.Module, shared: list[torch.Tensor],
                 fixed_labels: torch.Tensor | None, config: AttackConfig,
                 local_steps: LocalSteps | None = None, *,
                 input_shape: tuple[int, ...] | None = None, structured: bool = True) -> None:
        self.model = model
        self.local_steps = local_steps
        named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        self.parameters = [p for _, p in named]
        self.shared = shared
        self.fixed_labels = fixed_labels
        self.matching = DISTANCES[config.distance]
        self.tv_weight = config.tv_weight
        self.evaluations = 0
        # Linear layers' weight gradients are matched through their factors (:mod:`.structured`)
        # unless asked not to, or when the client took several local steps (whose update is a
        # sum over changing weights, not one outer product per row).
        self.taps: LinearTaps | None = None
        if structured and local_steps is None and input_shape is not None:
            device = self.parameters[0].device
            taps = LinearTaps(model, torch.zeros(input_shape, device=device),
                              [name for name, _ in named])
            self.taps = taps or None
        taken = set(self.taps.weights if self.taps else ())
        self.direct_parameters = [p for name, p in named if name not in taken]
        self.direct_shared = [g for (name, _), g in zip(named, shared) if name not in taken]
        self.targets = {name: target_terms(shared[i]) for i, (name, _) in enumerate(named)
                        if name in taken}
        self.best_distance: float
        self.best_input: torch.Tensor | None
        self.best_labels: list[int]
        self.forget_best()

    def forget_best(self) -> None:
        """Start a new attempt's memory of its best point."""
        self.best_distance, self.best_input, self.best_labels = math.inf, None, []

    def state_dict(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "best_distance": self.best_distance,
                "best_input": None if self.best_input is None else self.best_input.cpu(),
                "best_labels": self.best_labels}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.evaluations, self.best_distance = state["evaluations"], state["best_distance"]
        self.best_input = None if state["best_input"] is None else state["best_input"].to(device)
        self.best_labels = state["best_labels"]

    def soft_labels(self, label_logits: torch.Tensor) -> torch.Tensor:
        if self.fixed_labels is not None:
            return F.one_hot(self.fixed_labels, label_logits.shape[-1]).float()
        return F.softmax(label_logits, dim=-1)

    def evaluate(self, dummy: torch.Tensor, label_logits: torch.Tensor,
                 create_graph: bool) -> tuple[torch.Tensor, float]:
        """The objective to minimise (matching loss plus prior) and the gradient distance."""
        self.evaluations += 1
        labels = self.soft_labels(label_logits)
        matching = (self._direct_matching if self.taps is None else self._structured_matching)(
            dummy, labels, create_graph)
        distance = float(matching.detach())
        if distance < self.best_distance:  # False for NaN, so a diverged point is never kept
            self.best_distance = distance
            self.best_input = dummy.detach().clone()
            self.best_labels = self.predicted_labels(label_logits)
        if self.tv_weight:
            return matching + self.tv_weight * total_variation(dummy), distance
        return matching, distance

    def _direct_matching(self, dummy: torch.Tensor, labels: torch.Tensor,
                         create_graph: bool) -> torch.Tensor:
        """The distance with every parameter's gradient formed."""
        if self.local_steps is None:
            loss = classification_loss(self.model(dummy), labels)
            grads = torch.autograd.grad(loss, self.parameters, create_graph=create_graph)
        else:  # the client took several steps: take them on the guess too, and match their sum
            grads = local_update(self.model, dummy, labels, self.local_steps, create_graph)
        return self.matching(list(grads), self.shared)

    def _structured_matching(self, dummy: torch.Tensor, labels: torch.Tensor,
                             create_graph: bool) -> torch.Tensor:
        """The distance with the taken linear layers' weight gradients never formed: the loss's
        gradient at their outputs is δ, and their caught inputs are h."""
        assert self.taps is not None
        with self.taps.tapped() as caught:
            loss = classification_loss(self.model(dummy), labels)
        outputs = [output for name in self.taps.weights for _, output in caught[name]]
        grads = torch.autograd.grad(loss, self.direct_parameters + outputs,
                                    create_graph=create_graph)
        count = len(self.direct_parameters)
        direct, rest = list(grads[:count]), iter(grads[count:])
        deltas = {name: [next(rest) for _ in caught[name]] for name in self.taps.weights}
        inputs = {name: [rows for rows, _ in pairs] for name, pairs in caught.items()}
        return self.matching(direct, self.direct_shared,
                             self.taps.terms(inputs, deltas, self.targets))

    def predicted_labels(self, label_logits: torch.Tensor) -> list[int]:
        if self.fixed_labels is not None:
            return self.fixed_labels.tolist()
        return label_logits.detach().argmax(dim=-1).tolist()


def gradient_distance(dummy: Sequence[torch.Tensor], shared: Sequence[torch.Tensor],
                      linear: Sequence[LinearTerms] = ()) -> torch.Tensor:
    """Squared Euclidean distance between two gradients, summed over all parameters (DLG's loss).

    ``linear``: the layers whose weight gradients are given by their three sums instead
    (:mod:`~dlg_helpers.attack.structured`): ‖G − T‖² = ‖G‖² − 2⟨G, T⟩ + ‖T‖², formed in
    float64, where the sums nearly cancel.
    """
    distance = sum(((d - s) ** 2).sum() for d, s in zip(dummy, shared, strict=True))
    for terms in linear:
        distance = distance + (terms.own - 2 * terms.dot + terms.target).to(_dtype(shared))
    return distance


def cosine_distance(dummy: Sequence[torch.Tensor], shared: Sequence[torch.Tensor],
                    linear: Sequence[LinearTerms] = ()) -> torch.Tensor:
    """One minus the cosine similarity of the two gradients, each seen as one long vector.

    Geiping et al. (2020) match directions rather than magnitudes: the magnitude of a gradient
    mostly says how wrong the network is, the direction says what the input was. In [0, 2].
    ``linear`` as for :func:`gradient_distance`.
    """
    dtype = _dtype(shared)
    dot = sum((d * s).sum() for d, s in zip(dummy, shared, strict=True))
    own = sum((d ** 2).sum() for d in dummy)
    target = sum((s ** 2).sum() for s in shared)
    for terms in linear:
        dot = dot + terms.dot.to(dtype)
        own = own + terms.own.to(dtype)
        target = target + terms.target.to(dtype)
    return 1 - dot / (own * target).sqrt()


def _dtype(shared: Sequence[torch.Tensor]) -> torch.dtype:
    return shared[0].dtype if shared else torch.get_default_dtype()


DISTANCES = {"euclidean": gradient_distance, "cosine": cosine_distance}
"""The gradient-matching losses an attack can use, by name."""
