"""What the victim shares, and what the attacker reads straight off it.

The victim computes the cross-entropy loss of its private batch against one-hot labels and shares
the gradient with respect to every parameter, as a client does in federated SGD.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["classification_loss", "shared_gradient", "gradient_distance", "cosine_distance",
           "DISTANCES", "idlg_label", "idlg_labels", "last_linear_layer", "classifier_gradient",
           "relative_gradient_gap"]


AUX_LOSS_WEIGHT = 0.4  # torchvision's Inception-v3 training recipe: main loss + 0.4 aux loss


def classification_loss(outputs: Any, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the model's outputs against class indices or soft labels.

    Inception-v3 in training mode also returns its auxiliary classifier's logits; as in
    torchvision's training recipe, their loss is added with weight 0.4, so that the auxiliary
    head's parameters have a gradient to share too.
    """
    aux_logits = getattr(outputs, "aux_logits", None)
    logits = getattr(outputs, "logits", outputs)
    loss = F.cross_entropy(logits, targets)
    if aux_logits is not None:
        loss = loss + AUX_LOSS_WEIGHT * F.cross_entropy(aux_logits, targets)
    return loss


def shared_gradient(model: nn.Module, inputs: torch.Tensor,
                    labels: torch.Tensor) -> list[torch.Tensor]:
    """The gradient a client shares: d loss / d parameter for every trainable parameter.

    Args:
        model: the shared model, in the mode (train or eval) the client trains it in.
        inputs: the private batch as the model takes it, shape (B, C, H, W).
        labels: class indices, shape (B,).
    """
    if inputs.dim() != 4:
        raise ValueError(f"inputs must be a batch (B, C, H, W), got shape {tuple(inputs.shape)}")
    if labels.shape != (inputs.shape[0],):
        raise ValueError(
            f"need one label per image: {inputs.shape[0]} images but labels of shape "
            f"{tuple(labels.shape)}"
        )
    parameters = [p for p in model.parameters() if p.requires_grad]
    try:
        outputs = model(inputs)
    except ValueError as error:  # batch norm's message does not say what to change
        if "more than 1 value per channel" not in str(error):
            raise
        raise ValueError(
            "a batch-norm layer in training mode saw one value per channel (a batch of 1 on a "
            "1x1 feature map, as in Inception-v3's auxiliary head); attack a batch of at least 2 "
            "images, remove the layer, or call model.eval() first (and say so)"
        ) from error
    except RuntimeError as error:  # torch's shape errors do not say what to change either
        raise ValueError(
            f"the model cannot take images of shape {tuple(inputs.shape[1:])} ({error}); load "
            "the image at the model's input size: load_image(name, get_spec(model_name).image_size)"
        ) from error
    loss = classification_loss(outputs, labels)
    return [g.detach() for g in torch.autograd.grad(loss, parameters)]


def gradient_distance(dummy: list[torch.Tensor], shared: list[torch.Tensor]) -> torch.Tensor:
    """Squared Euclidean distance between two gradients, summed over all parameters (DLG's loss)."""
    return sum(((d - s) ** 2).sum() for d, s in zip(dummy, shared, strict=True))


def cosine_distance(dummy: list[torch.Tensor], shared: list[torch.Tensor]) -> torch.Tensor:
    """One minus the cosine similarity of the two gradients, each seen as one long vector.

    Geiping et al. (2020) match directions rather than magnitudes: the magnitude of a gradient
    mostly says how wrong the network is, the direction says what the input was. In [0, 2].
    """
    dot = sum((d * s).sum() for d, s in zip(dummy, shared, strict=True))
    norms = (sum((d ** 2).sum() for d in dummy) * sum((s ** 2).sum() for s in shared)).sqrt()
    return 1 - dot / norms


DISTANCES = {"euclidean": gradient_distance, "cosine": cosine_distance}
"""The gradient-matching losses an attack can use, by name."""


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
