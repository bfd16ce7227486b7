"""What the attacker reads straight off the shared gradient: the private labels (iDLG)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["require_readable_labels", "last_linear_layer", "classifier_gradient", "idlg_label",
           "idlg_labels"]


def last_linear_layer(model: nn.Module) -> nn.Linear:
    """The classifier layer whose gradient gives the label away."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("iDLG needs a model that ends in an nn.Linear classifier layer")
    return linears[-1]


def classifier_gradient(model: nn.Module, shared: list[torch.Tensor]
                        ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The shared gradient of the last linear layer: (weight gradient, bias gradient or None)."""
    layer = last_linear_layer(model)
    parameters = [p for p in model.parameters() if p.requires_grad]
    index = {id(p): i for i, p in enumerate(parameters)}
    if id(layer.weight) not in index:
        raise ValueError("the classifier layer is frozen, so its gradient is not shared")
    bias = shared[index[id(layer.bias)]] if layer.bias is not None and id(layer.bias) in index \
        else None
    return shared[index[id(layer.weight)]], bias


def idlg_label(model: nn.Module, shared: list[torch.Tensor]) -> int:
    """The label of a single private image, read off the shared gradient (Zhao et al. 2020).

    For softmax cross-entropy, the gradient of the classifier's bias is ``p - y``: negative only
    at the true class. Without a bias, the weight gradient's rows are ``(p - y) h`` with the
    penultimate features ``h >= 0`` (after Sigmoid or ReLU), so the true class is the one row
    whose sum is negative.
    """
    return idlg_labels(model, shared, 1)[0]


def idlg_labels(model: nn.Module, shared: list[torch.Tensor], count: int) -> list[int]:
    """The labels of a private batch of ``count`` images with distinct labels, read off the
    shared gradient: the ``count`` classes whose classifier gradient is most negative.

    The batch's bias gradient is the mean of ``p - y`` over its images: each true class adds
    its ``p - 1 < 0``, the other images add their ``p >= 0``. It fails when the network is
    confident enough in one image's class that the others' share outweighs it (2 of 50 random
    LeNets with batches of 4), and when a class repeats.
    """
    weight_grad, bias_grad = classifier_gradient(model, shared)
    scores = bias_grad if bias_grad is not None else weight_grad.sum(dim=1)
    if not 1 <= count <= scores.numel():
        raise ValueError(f"cannot read {count} labels off a classifier of {scores.numel()} classes")
    return torch.argsort(scores)[:count].tolist()


def require_readable_labels(labels: list[int], label_mode: str) -> None:
    """Refuse an iDLG attack on a batch whose labels repeat: it reads only distinct labels off
    the gradient, so the run would measure nothing but that.

    Raises:
        ValueError: naming the label modes that work for such a batch.
    """
    if label_mode == "idlg" and len(set(labels)) != len(labels):
        raise ValueError(
            "iDLG reads a batch's labels off the gradient only when they are distinct, but "
            f"this batch has labels {labels}; use label_mode='joint' or 'known'")
