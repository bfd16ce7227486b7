"""The gradient distance of a linear layer without its weight gradient.

A linear layer ``z = W h + b`` applied to rows h_1 … h_R (the batch, and any positions) has the
weight gradient G = Σ_r δ_r h_rᵀ, where δ_r = ∂L/∂z_r (chapter 1, :math:`\\partial L/\\partial W =
\\delta h^\\top`). Its distance to a shared gradient T needs only the factors:

    ‖G − T‖² = Σ_{r,s} (δ_r·δ_s)(h_r·h_s) − 2 Σ_r δ_rᵀ T h_r + ‖T‖²,

and the cosine distance needs the same three sums. For LeNet at 32 x 32 the classifier's weight
gradient is 76,800 of the 85,036 numbers the attack compares, each formed, compared and
differentiated again at every evaluation; the sums above read T once and touch R x R small
Gram matrices besides. The value is the same up to float rounding.

The middle sum nearly cancels the others near a match, so the three are formed in float64 (the
factors are tiny, and T is read once): the distance then resolves as finely as the direct form's
float32 difference does.

:class:`LinearTaps` finds the layers this applies to and catches, during the attacker's forward
pass, each layer's input rows and the output whose gradient is δ; :func:`linear_terms` forms the
three sums; the distances of :mod:`~dlg_helpers.attack.objective` take them beside the other
parameters' gradients.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["LinearTerms", "linear_terms", "target_terms", "LinearTaps"]


@dataclass(frozen=True)
class LinearTerms:
    """The three sums a distance needs from one linear layer's weight gradient G and its target
    T, in float64: ``dot`` = ⟨G, T⟩, ``own`` = ‖G‖², ``target`` = ‖T‖²."""

    dot: torch.Tensor
    own: torch.Tensor
    target: torch.Tensor


def target_terms(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A layer's shared weight gradient T as :func:`linear_terms` takes it: T in float64 and
    ‖T‖² (computed once per attack, not per evaluation)."""
    wide = target.double()
    return wide, (wide * wide).sum()


def linear_terms(inputs: torch.Tensor, deltas: torch.Tensor, target: torch.Tensor,
                 target_norm: torch.Tensor) -> LinearTerms:
    """⟨G, T⟩ and ‖G‖² for G = Σ_r δ_r h_rᵀ, without forming G.

    Args:
        inputs: the layer's input rows h_r, shape (R, in).
        deltas: the loss's gradient at the layer's output rows δ_r, shape (R, out).
        target: T in float64, shape (out, in) (:func:`target_terms`).
        target_norm: ‖T‖² (:func:`target_terms`).
    """
    h, d = inputs.double(), deltas.double()
    own = ((d @ d.T) * (h @ h.T)).sum()
    dot = (d * (h @ target.T)).sum()
    return LinearTerms(dot=dot, own=own, target=target_norm)


class LinearTaps:
    """The model's linear layers whose weight gradient the attack never forms.

    A layer is taken when it is an :class:`torch.nn.Linear` whose weight is trained, belongs to
    no other module, and is called at least once in a forward pass of ``example`` (found by one
    forward pass in evaluation mode, without gradients, so that no running statistic moves).
    During :meth:`tapped`, every call of a taken layer records its input rows and its output
    (plus a zero ``probe`` of the output's shape when probes are given: under
    :mod:`torch.func`, which differentiates only with respect to a function's arguments, the
    gradient with respect to the probe is δ).

    Args:
        model: the attacker's copy of the shared model.
        example: an input of the shape the attack optimises.
        trained: the names of the parameters the shared gradient covers, in its order.
    """

    def __init__(self, model: nn.Module, example: torch.Tensor, trained: Sequence[str]) -> None:
        owners = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
        candidates = {f"{name}.weight" if name else "weight": module
                      for name, module in model.named_modules()
                      if isinstance(module, nn.Linear) and module.weight.requires_grad
                      and owners[id(module.weight)] == 1}
        candidates = {name: m for name, m in candidates.items() if name in trained}
        self._modules = candidates
        self.calls: dict[str, list[torch.Size]] = {}  # empty: the pass below is not checked
        modes = {m: m.training for m in model.modules()}
        model.eval()
        try:
            with torch.no_grad(), self.tapped() as caught:
                model(example)
        finally:
            for module, training in modes.items():
                module.train(training)
        self.calls = {name: [output.shape for _, output in caught[name]]
                      for name in candidates if caught[name]}
        self._modules = {name: candidates[name] for name in self.calls}

    @property
    def weights(self) -> list[str]:
        """The names of the weights taken, in the model's order."""
        return list(self.calls)

    def __bool__(self) -> bool:
        return bool(self.calls)

    def probes(self, like: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Zero tensors the shape of each taken layer's outputs, one per call, of ``like``'s
        dtype and device."""
        return {name: [torch.zeros(shape, dtype=like.dtype, device=like.device)
                       for shape in shapes] for name, shapes in self.calls.items()}

    @contextmanager
    def tapped(self, probes: dict[str, list[torch.Tensor]] | None = None
               ) -> Iterator[dict[str, list[tuple[torch.Tensor, torch.Tensor]]]]:
        """Record, for every call of a taken layer, its input rows and its output (with the
        call's probe added when ``probes`` are given).

        Yields:
            By weight name, one ``(input rows (R, in), output)`` pair per call, filled as the
            model runs.

        Raises:
            RuntimeError: on leaving, when a layer was called a different number of times than
            in the forward pass that chose it (a different path through the model would leave
            part of its gradient out).
        """
        caught: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {
            name: [] for name in self._modules}

        def hook(name: str) -> Any:
            def record(module: nn.Linear, args: tuple[torch.Tensor, ...],
                       output: torch.Tensor) -> torch.Tensor:
                if probes is not None:
                    output = output + probes[name][len(caught[name])]
                caught[name].append((args[0].reshape(-1, module.in_features), output))
                return output
            return record

        handles = [module.register_forward_hook(hook(name))
                   for name, module in self._modules.items()]
        try:
            yield caught
        finally:
            for handle in handles:
                handle.remove()
        if self.calls:
            counted = {name: len(pairs) for name, pairs in caught.items()}
            expected = {name: len(shapes) for name, shapes in self.calls.items()}
            if counted != expected:
                raise RuntimeError(
                    f"the linear layers were called {counted} times, not {expected} as when "
                    "they were chosen; attack this model with structured=False")

    def terms(self, inputs: dict[str, list[torch.Tensor]], deltas: dict[str, list[torch.Tensor]],
              targets: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> list[LinearTerms]:
        """Each taken layer's :class:`LinearTerms`, from its input rows and the gradients at its
        outputs (or probes), one of each per call, and its target (:func:`target_terms`)."""
        return [linear_terms(torch.cat(inputs[name]),
                             torch.cat([delta.reshape(-1, self._modules[name].out_features)
                                        for delta in deltas[name]]),
                             *targets[name])
                for name in self.calls]
