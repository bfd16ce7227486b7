"""One attack as a table row."""

import pytest
import torch

from dlg_helpers.analysis.rows import result_row


def test_a_batch_row_keeps_its_mean_and_its_best_recovered_ssim(make_result):
    truth = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    run = make_result([1.0, 0.5])
    run.truth, run.reconstruction = truth, torch.stack([torch.zeros(3, 16, 16), truth[1]])
    row = result_row(run)
    assert row["best_ssim"] == pytest.approx(1.0) and row["ssim"] < 0.6
    single = result_row(make_result([1.0, 0.5]))
    assert single["best_ssim"] == single["ssim"]
