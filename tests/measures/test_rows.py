"""One attack as a table row."""

import pytest
import torch

from dlg_helpers.measures.rows import image_rows, result_row


def test_a_batch_row_keeps_its_mean_and_its_best_recovered_image(make_result):
    truth = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    run = make_result([1.0, 0.5])
    run.truth, run.reconstruction = truth, torch.stack([torch.zeros(3, 16, 16), truth[1]])
    row = result_row(run)
    assert row["best_ssim"] == pytest.approx(1.0) and row["ssim"] < 0.6
    assert row["likeness"] == pytest.approx(1.0) and row["rank"] == 1
    assert row["batch"] == 2 and row["identified"] == 1 and row["leaks"]
    single = result_row(make_result([1.0, 0.5]))
    assert single["best_ssim"] == single["ssim"]


def test_each_image_of_a_batch_is_judged_with_its_own_reconstruction():
    generator = torch.Generator().manual_seed(1)
    truth = torch.rand(3, 3, 16, 16, generator=generator)
    noise = torch.rand(3, 3, 16, 16, generator=generator)
    leaked = torch.stack([noise[0], truth[2], noise[1]])  # one image back, out of order
    judged = image_rows(leaked, truth)
    assert [image["leaks"] for image in judged] == [False, False, True]
    assert judged[2]["mse"] == 0 and judged[2]["corrected_ssim"] == pytest.approx(1.0)
    assert all(image["rank"] > 1 for image in judged[:2])
