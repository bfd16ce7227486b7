"""One attack as a table row."""

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.analysis.rows import result_row
from dlg_helpers.attack.trace import Attempt, StepRecord


def _result(values: list[float], evaluations: list[int] | None = None) -> dlg.AttackResult:
    counts = evaluations or [20 * (i + 1) for i in range(len(values))]
    history = [StepRecord(step=i, attempt=0, grad_distance=v, mse=v, label_pred=[1],
                          evaluations=n, seconds=float(i), aligned_mse=v / 10)
               for i, (v, n) in enumerate(zip(values, counts))]
    image = torch.zeros(1, 3, 4, 4)
    return dlg.AttackResult(reconstruction=image, truth=image, label_true=[1], label_pred=[1],
                            history=history,
                            attempts=[Attempt(0, "budget", len(values) - 1, min(values))])


def test_a_batch_row_keeps_its_mean_and_its_best_recovered_ssim():
    truth = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    run = _result([1.0, 0.5])
    run.truth, run.reconstruction = truth, torch.stack([torch.zeros(3, 16, 16), truth[1]])
    row = result_row(run)
    assert row["best_ssim"] == pytest.approx(1.0) and row["ssim"] < 0.6
    single = result_row(_result([1.0, 0.5]))
    assert single["best_ssim"] == single["ssim"]
