"""What runs cost: FLOPs, GPU estimates, the stored runs' costs."""

import shutil
from pathlib import Path

import pytest

from dlg_helpers import summaries
from dlg_helpers.analysis.costs import (
    COLAB_T4_FLOPS,
    estimated_seconds,
    flops_per_evaluation,
    run_costs,
)

ROOT = Path(__file__).resolve().parents[2]


def test_lenet_flops_are_dominated_by_its_layers_and_grow_with_the_batch():
    one = flops_per_evaluation("lenet")
    # forward of the three convolutions and the classifier, 2 FLOPs per multiply-add:
    forward = 2 * (12 * 16 * 16 * 3 * 25 + 12 * 8 * 8 * 12 * 25 + 12 * 8 * 8 * 12 * 25 + 768 * 100)
    assert 3 * forward < one < 12 * forward  # forward, backward and the backward of the backward
    assert flops_per_evaluation("lenet", batch_size=2) == pytest.approx(2 * one, rel=0.05)


def test_estimates_scale_with_the_work():
    assert estimated_seconds(6000, 30 * 10**9) == pytest.approx(6000 * 30e9 / COLAB_T4_FLOPS)
    assert estimated_seconds(10, 10**9, throughput=1e9) == 10
    with pytest.raises(ValueError, match="throughput must be positive"):
        estimated_seconds(1, 1, throughput=0)


def test_lenet_flops_follow_its_image_side():
    small, large = flops_per_evaluation("lenet", 1, 16), flops_per_evaluation("lenet", 1, 64)
    assert 10 < large / small < 20  # the convolutions and the linear layer grow with the area


def test_run_costs_estimate_a_gpu_from_the_flops(tmp_path):
    from dlg_helpers.analysis.costs import flops_per_evaluation
    from dlg_helpers.cli import main

    shutil.copytree(ROOT / "results" / "lenet" / "cat-seed0", tmp_path / "lenet" / "cat-seed0",
                    ignore=shutil.ignore_patterns("checkpoint.pt"))  # the report's setting
    for image in ("cat", "coffee"):  # a small sweep: other settings, or a defence
        assert main(["attack", "--image", image, "--steps", "2", "--defence", "prune:0.5",
                     "--no-progress", "--out", str(tmp_path / "lenet" / f"{image}-pruned")]) == 0
    rows = {row["run"]: row for row in run_costs(tmp_path, gpu_flops=1e9)}
    single, sweep = rows["cat-seed0"], rows["DLG, other settings or defences"]
    flops = flops_per_evaluation("lenet")
    assert single["gflops"] == flops / 1e9 and single["runs"] == 1
    assert single["gpu_minutes"] == pytest.approx(single["evaluations"] * flops / 1e9 / 60)
    assert sweep["runs"] == 2 and len(rows) == 2
    assert "| LeNet | cat-seed0 | 1 |" in summaries.run_cost_table([single, sweep]).data
