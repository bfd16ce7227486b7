"""Replace ReLU by Sigmoid everywhere in a network, as the report's Table 2 requires.

DLG differentiates the gradient, and ReLU's second derivative is zero almost everywhere, so the
report swaps every ReLU for a Sigmoid. Swapping the ``nn.ReLU`` *modules* is not enough for every
torchvision model: DenseNet's forward calls ``F.relu`` on its final features, and every
Inception-v3 ``BasicConv2d`` calls ``F.relu`` in its forward. :func:`to_sigmoid` therefore also
intercepts the functional calls; ``functional=False`` keeps the naive, modules-only swap, so that
its effect can be measured.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["SigmoidForRelu", "replace_relu_modules", "to_sigmoid", "count_relu_calls"]


_RELU_FUNCTIONS = {F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu,
                   torch.Tensor.relu_}


class _ReluAsSigmoid(TorchFunctionMode):
    """Inside this mode, any call of a ReLU function computes a Sigmoid instead."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        if func in _RELU_FUNCTIONS:
            return torch.sigmoid(args[0])  # never in place: callers use the returned tensor
        return func(*args, **(kwargs or {}))


class SigmoidForRelu(nn.Module):
    """Runs ``network`` with every functional ReLU call computing a Sigmoid.

    The wrapped network's parameters are unchanged (only their names gain a ``network.``
    prefix), so the shared gradient is the same list of tensors.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> Any:
        with _ReluAsSigmoid():
            return self.network(x)


def replace_relu_modules(model: nn.Module) -> int:
    """Replace every ``nn.ReLU`` submodule of ``model`` by ``nn.Sigmoid``, in place.

    Returns how many were replaced.
    """
    replaced = 0
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, name, nn.Sigmoid())
                replaced += 1
    return replaced


def to_sigmoid(model: nn.Module, functional: bool = True) -> nn.Module:
    """``model`` with ReLU replaced by Sigmoid: every call (default), or modules only (naive)."""
    replace_relu_modules(model)
    return SigmoidForRelu(model) if functional else model


class _CountRelu(TorchDispatchMode):
    """Counts the ReLU kernels that actually execute, however they were called."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        if "relu" in str(func.overloadpacket):
            self.calls += 1
        return func(*args, **(kwargs or {}))


def count_relu_calls(model: nn.Module, x: torch.Tensor) -> int:
    """How many ReLU kernels run in one forward pass of ``model`` on ``x`` (no gradients).

    Counted below the Python API (at the dispatcher), so module calls, ``F.relu``, ``torch.relu``
    and ``Tensor.relu`` all count: the proof that a swap left no ReLU behind.
    """
    with torch.no_grad(), _CountRelu() as counter:
        model(x)
    return counter.calls
