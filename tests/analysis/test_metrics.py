"""Image metrics."""

import math

import pytest
import torch

import dlg_helpers as dlg


def test_mse_psnr_ssim_of_identical_images():
    image = torch.rand(1, 3, 16, 16)
    assert dlg.mse(image, image) == 0
    assert dlg.psnr(image, image) == math.inf
    assert dlg.ssim(image, image) == pytest.approx(1.0)


def test_known_values():
    a = torch.zeros(1, 3, 8, 8)
    b = torch.full((1, 3, 8, 8), 0.1)
    assert dlg.mse(a, b) == pytest.approx(0.01)
    assert dlg.psnr(b, a) == pytest.approx(20.0)


def test_psnr_clips_the_reconstruction_to_pixel_range():
    truth = torch.ones(1, 3, 4, 4)
    assert dlg.psnr(torch.full_like(truth, 5.0), truth) == math.inf


def test_ssim_falls_with_noise():
    generator = torch.Generator().manual_seed(0)
    truth = torch.rand(1, 3, 32, 32, generator=generator)
    slight = (truth + 0.02 * torch.randn(truth.shape, generator=generator)).clamp(0, 1)
    heavy = torch.rand(1, 3, 32, 32, generator=generator)
    assert dlg.ssim(slight, truth) > 0.9 > 0.2 > dlg.ssim(heavy, truth)


def test_ssim_works_on_images_smaller_than_its_window():
    image = torch.rand(1, 3, 6, 6)
    assert dlg.ssim(image, image) == pytest.approx(1.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in shape"):
        dlg.mse(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 5, 5))


def test_image_metrics_bundles_all_four():
    a, b = torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.1)
    assert set(dlg.image_metrics(a, b)) == {"mse", "psnr", "ssim", "aligned_mse"}


def test_aligned_mse_ignores_contrast_and_channel_brightness_only():
    generator = torch.Generator().manual_seed(1)
    truth = torch.rand(1, 3, 16, 16, generator=generator)
    offsets = torch.tensor([0.7, -2.0, 3.0]).view(1, 3, 1, 1)
    drifted = 14.5 * truth + offsets  # what training-mode batch norm hides from the gradient
    assert dlg.mse(drifted, truth) > 1
    assert dlg.metrics.aligned_mse(drifted, truth) == pytest.approx(0, abs=1e-10)
    # A per-channel gain is *not* hidden, so it is not forgiven.
    tinted = truth * torch.tensor([1.0, 0.2, 1.0]).view(1, 3, 1, 1)
    assert dlg.metrics.aligned_mse(tinted, truth) > 1e-3
    noise = torch.rand(1, 3, 16, 16, generator=generator)
    assert dlg.metrics.aligned_mse(noise, truth) <= dlg.mse(noise, truth)


def test_standardise_needs_no_truth_and_undoes_a_drift():
    generator = torch.Generator().manual_seed(2)
    truth = torch.rand(1, 3, 16, 16, generator=generator)
    drifted = 9.0 * truth - 4.0
    shown = dlg.metrics.standardise(drifted)
    assert 0 <= shown.min() and shown.max() <= 1
    assert dlg.mse(shown, truth) < dlg.mse(drifted, truth) / 100


def test_batches_are_paired_whatever_their_order():
    generator = torch.Generator().manual_seed(3)
    truth = torch.rand(3, 3, 8, 8, generator=generator)
    swapped = truth[[2, 0, 1]]
    assert torch.equal(dlg.metrics.match_batch(swapped, truth), truth)
    assert dlg.mse(swapped, truth) == 0
    assert dlg.ssim(swapped, truth) == pytest.approx(1.0)
    assert dlg.metrics.aligned_mse(swapped * 3 + 1, truth) == pytest.approx(0, abs=1e-10)


def test_a_batch_is_judged_by_its_best_recovered_image():
    generator = torch.Generator().manual_seed(4)
    truth = torch.rand(3, 3, 16, 16, generator=generator)
    noise = torch.rand(3, 3, 16, 16, generator=generator)
    leaked = torch.stack([noise[0], truth[2], noise[1]])  # one image back, out of order
    best = dlg.metrics.best_recovered(leaked, truth)
    assert best["ssim"] == pytest.approx(1.0) and best["mse"] == 0
    assert dlg.ssim(leaked, truth) < 0.5  # the batch's mean would call it hidden
    single = dlg.metrics.best_recovered(noise[:1], truth[:1])
    assert single == dlg.image_metrics(noise[:1], truth[:1])
