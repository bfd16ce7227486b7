"""What an attack costs: floating-point operations per objective evaluation, and time estimates.

The count comes from PyTorch's own FLOP counter over one evaluation of the DLG objective
(forward pass, gradient, gradient of the gradient distance), traced on the meta device so that
nothing is computed;
dividing by a device's sustained throughput estimates the time there. The CPU times of this
course are measured; GPU times are such estimates, since no GPU was available to measure them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..attack.objective import gradient_distance
from ..client.gradients import classification_loss
from ..client.models import build_model, get_spec
from ..runs.record import list_records
from ..runs.spec import in_report_setting

__all__ = ["run_costs", "COLAB_T4_FLOPS", "flops_per_evaluation", "estimated_seconds"]


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


def run_costs(results_dir: str | Path, gpu_flops: float = COLAB_T4_FLOPS
              ) -> list[dict[str, Any]]:
    """Each stored run's measured CPU time and its estimated time on a GPU of ``gpu_flops``.

    Runs in the report's setting (DLG, :data:`~dlg_helpers.runs.spec.REPORT_SETTING`, no defence)
    get a row each; the others (sweeps: other settings, sizes, attacks, defences, trained
    weights) one row per model and attack, with their count, summed costs and the mean FLOPs
    of their evaluations. The estimate is the evaluations times
    the FLOPs of one evaluation of the model and batch
    (:func:`~dlg_helpers.analysis.costs.flops_per_evaluation`), over the GPU's throughput.
    """
    flops: dict[tuple[str, int, int], int] = {}
    rows: dict[str, dict[str, Any]] = {}
    for record in list_records(results_dir):
        if "error" in record:
            continue
        batch = len(record["image"].split("+"))
        key = (record["model"], batch, record["image_size"])
        if key not in flops:
            flops[key] = flops_per_evaluation(record["model"], batch, record["image_size"])
        name = (Path(record["folder"]).name if in_report_setting(record)
                else f"{record['attack']}, other settings or defences")
        row = rows.setdefault(f"{record['model']}/{name}", {
            "run": name, "model": record["model"], "runs": 0, "evaluations": 0, "flops": 0,
            "cpu_minutes": 0.0, "gpu_minutes": 0.0})
        row["runs"] += 1
        row["evaluations"] += record["evaluations"]
        row["flops"] += record["evaluations"] * flops[key]
        row["cpu_minutes"] += record["minutes"]
        row["gpu_minutes"] += estimated_seconds(record["evaluations"], flops[key], gpu_flops) / 60
    for row in rows.values():  # a group of runs of several sizes: the mean over its evaluations
        row["gflops"] = row.pop("flops") / max(row["evaluations"], 1) / 1e9
    return list(rows.values())
