"""What the victim shares: the gradient of its private batch's loss.

The victim computes the cross-entropy loss of its private batch against one-hot labels and shares
the gradient with respect to every parameter, as a client does in federated SGD.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["classification_loss", "shared_gradient"]


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
