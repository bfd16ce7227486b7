"""What an attack costs: floating-point operations per objective evaluation, and time estimates.

The count comes from PyTorch's own FLOP counter over one evaluation of the DLG objective
(forward pass, gradient, gradient of the gradient distance), traced on the meta device so that
nothing is computed;
dividing by a device's sustained throughput estimates the time there. The CPU times of this
course are measured; GPU times are such estimates, since no GPU was available to measure them.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..attack.objective import gradient_distance
from ..client.gradients import classification_loss
from ..client.models import build_model, get_spec

__all__ = ["COLAB_T4_FLOPS", "flops_per_evaluation", "estimated_seconds"]


# A Colab T4 peaks at 8.1 TFLOP/s in float32; double backward through convolutions sustains
# well under that, so the estimates assume 3 TFLOP/s (round, and on the cautious side).
COLAB_T4_FLOPS = 3e12


def flops_per_evaluation(model: str, batch_size: int | None = None, size: int | None = None) -> int:
    """Floating-point operations of one DLG objective evaluation on registered ``model``.

    Args:
        model: registered model name.
        batch_size: images in the batch (default: the model's, as the report attacked it).
        size: image side (default: the model's input size).
    """
    spec = get_spec(model)
    batch = batch_size or spec.batch_size
    side = size or spec.image_size
    # On the meta device tensors have shapes but no data: the operations are traced and counted
    # without being computed, so even Inception-v3 is counted in seconds.
    network = build_model(model, size=side).to("meta")
    parameters = [p for p in network.parameters() if p.requires_grad]
    shared = [torch.zeros_like(p) for p in parameters]
    dummy = torch.randn(batch, 3, side, side, device="meta", requires_grad=True)
    soft_labels = torch.softmax(torch.randn(batch, spec.num_classes, device="meta"), dim=-1)
    with FlopCounterMode(display=False) as counter:
        loss = classification_loss(network(dummy), soft_labels)
        gradient = torch.autograd.grad(loss, parameters, create_graph=True)
        gradient_distance(list(gradient), shared).backward()
    return int(counter.get_total_flops())


def estimated_seconds(evaluations: int, flops: int, throughput: float = COLAB_T4_FLOPS) -> float:
    """Seconds for ``evaluations`` evaluations of ``flops`` each at ``throughput`` FLOP/s."""
    if throughput <= 0:
        raise ValueError(f"throughput must be positive, got {throughput}")
    return evaluations * flops / throughput
