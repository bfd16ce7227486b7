"""The chapters' shared tables and the measurements behind their verdicts."""

import math
import shutil
from pathlib import Path

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers import summaries
from dlg_helpers.analysis.comparison import distance_fall
from dlg_helpers.analysis.probes import gradient_gaps
from dlg_helpers.analysis.rows import result_row
from dlg_helpers.attack.trace import Attempt, StepRecord

ROOT = Path(__file__).resolve().parents[1]


def _result(values: list[float], evaluations: list[int] | None = None) -> dlg.AttackResult:
    counts = evaluations or [20 * (i + 1) for i in range(len(values))]
    history = [StepRecord(step=i, attempt=0, grad_distance=v, mse=v, label_pred=[1],
                          evaluations=n, seconds=float(i), aligned_mse=v / 10)
               for i, (v, n) in enumerate(zip(values, counts))]
    image = torch.zeros(1, 3, 4, 4)
    return dlg.AttackResult(reconstruction=image, truth=image, label_true=[1], label_pred=[1],
                            history=history,
                            attempts=[Attempt(0, "budget", len(values) - 1, min(values))])


def test_settling_step_and_value_at():
    run = _result([1.0, 0.5, 0.1, 0.06, 0.05, 0.05])
    assert run.settling_step() == 2  # from step 2 on, within twice the final 0.05
    assert run.settling_step(factor=1.0) == 4
    assert run.value_at(3) == 0.06 and run.value_at(3, "aligned_mse") == pytest.approx(0.006)
    assert _result([1.0, math.nan, 0.1]).settling_step() == 2  # NaN is never settled
    with pytest.raises(ValueError, match="no record of step 9; this run has steps 0 to 5"):
        run.value_at(9)
    with pytest.raises(ValueError, match="factor must be at least 1"):
        run.settling_step(factor=0.5)
    assert run.first_step_below(0.01, "aligned_mse") == 3
    rising = _result([0.07, 0.4, 0.56, 0.56])
    assert rising.settling_step() == 1  # a curve that rose has not settled where it started


def test_resting_step_is_where_lbfgs_stops_moving():
    # 20 evaluations per step, then one per step from step 3 on; the last record is the
    # attempt's final evaluation, not a step, so it neither starts nor ends a rest.
    resting = _result([9, 5, 2, 1, 1, 1, 1], evaluations=[20, 40, 60, 61, 62, 63, 64])
    assert resting.resting_step() == 2
    moving = _result([9, 5, 2, 1], evaluations=[20, 40, 60, 61])
    assert moving.resting_step() is None


def test_setting_table_reads_the_registry():
    text = summaries.setting_table("resnet18", dlg.AttackConfig(match_ratio=0, patience=0)).data
    assert "| image size | 224×224 |" in text
    assert "11,689,512 measured; the report says 11,000,000" in text
    assert "early stopping off" in text
    lenet = summaries.setting_table("lenet", dlg.AttackConfig()).data
    assert "scaled to [0, 1]" in lenet and "none in this network" in lenet


def test_parameter_rows_measure_each_model():
    rows = summaries.parameter_rows(("lenet", "resnet18"))
    assert [(r["model"], r["measured"], r["reported"]) for r in rows] == [
        ("lenet", 85_036, 60_000), ("resnet18", 11_689_512, 11_000_000)]
    table = summaries.parameter_table(rows, {"lenet": "another network"}).data
    assert "| lenet | 85,036 | 60,000 | 1.42 | another network |" in table


def test_result_table_counts_steps_and_labels():
    run = _result([1.0, 0.5, 0.0005])
    text = summaries.result_table({"toy": run}).data
    assert "| toy | 0.0e+00 |" in text and "| True | 2 | 2 | 2 | 60 |" in text
    assert summaries.orders_of_magnitude(1.0, 1e-3) == pytest.approx(3)


def test_a_batch_row_keeps_its_mean_and_its_best_recovered_ssim():
    truth = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    run = _result([1.0, 0.5])
    run.truth, run.reconstruction = truth, torch.stack([torch.zeros(3, 16, 16), truth[1]])
    row = result_row(run)
    assert row["best_ssim"] == pytest.approx(1.0) and row["ssim"] < 0.6
    single = result_row(_result([1.0, 0.5]))
    assert single["best_ssim"] == single["ssim"]


def test_batch_norm_hides_contrast_from_resnet_but_not_from_lenet():
    changes = {"contrast": lambda x: 5 * x - 1, "noise": lambda x: x + 0.01}
    lenet = {row["change"]: row for row in gradient_gaps("lenet", "cat", changes)}
    resnet = {row["change"]: row for row in gradient_gaps("resnet18", "cat", changes)}
    assert lenet["contrast"]["gap"] > 0.05  # no batch norm: the gradient sees it
    assert resnet["contrast"]["gap"] < lenet["contrast"]["gap"] / 100  # batch norm hides it
    assert lenet["contrast"]["mse"] == pytest.approx(dlg.mse(
        5 * dlg.load_image("cat", 32).pixels - 1, dlg.load_image("cat", 32).pixels))


def test_chapter_durations_come_from_papermill_metadata(tmp_path):
    import nbformat

    timed = nbformat.v4.new_notebook(metadata={"papermill": {"duration": 90.0}})
    nbformat.write(timed, tmp_path / "a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "b.ipynb")  # never executed
    rows = summaries.chapter_durations(tmp_path)
    assert rows == [{"chapter": "a", "minutes": 1.5}]
    assert "| a | 1.5 min |" in summaries.chapter_duration_table(rows).data


def test_run_costs_estimate_a_gpu_from_the_flops(tmp_path):
    from dlg_helpers.analysis.costs import flops_per_evaluation
    from dlg_helpers.cli import main

    shutil.copytree(ROOT / "results" / "lenet" / "cat-seed0", tmp_path / "lenet" / "cat-seed0",
                    ignore=shutil.ignore_patterns("checkpoint.pt"))  # the report's setting
    for image in ("cat", "coffee"):  # a small sweep: other settings, or a defence
        assert main(["attack", "--image", image, "--steps", "2", "--defence", "prune:0.5",
                     "--no-progress", "--out", str(tmp_path / "lenet" / f"{image}-pruned")]) == 0
    rows = {row["run"]: row for row in summaries.run_costs(tmp_path, gpu_flops=1e9)}
    single, sweep = rows["cat-seed0"], rows["DLG, other settings or defences"]
    flops = flops_per_evaluation("lenet")
    assert single["gflops"] == flops / 1e9 and single["runs"] == 1
    assert single["gpu_minutes"] == pytest.approx(single["evaluations"] * flops / 1e9 / 60)
    assert sweep["runs"] == 2 and len(rows) == 2
    assert "| lenet | cat-seed0 | 1 |" in summaries.run_cost_table([single, sweep]).data


def test_how_a_run_ended_in_one_sentence():
    from dlg_helpers.runs.record import load_result

    lenet = load_result(ROOT / "results" / "lenet" / "cat-seed0")
    assert summaries.how_it_ended(lenet, 300).startswith(
        "the run took all 300 steps, and its aligned MSE was")
    diverged = load_result(ROOT / "results" / "inception_v3" / "cat+astronaut-seed0")
    assert summaries.how_it_ended(diverged, 300).startswith(
        f"L-BFGS diverged from every one of its {len(diverged.attempts)} random starts")


def test_distance_fall_reads_each_runs_first_and_kept_distance():
    text = distance_fall({"matched": _result([0.12, 0.01, 0.0002]),
                          "stuck": _result([0.45, 0.40, 0.37])})
    assert text == "matched 1.2e-01 → 2.0e-04 (600×); stuck 4.5e-01 → 3.7e-01 (1.2×)"
    assert distance_fall({"exact": _result([0.3, 0.0])}) == "exact 3.0e-01 → 0.0e+00 (matched exactly)"
    assert distance_fall({}) == "no run stored"
