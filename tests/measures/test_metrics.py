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


def test_image_metrics_bundles_the_reports_measures_and_the_courses():
    a, b = torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.1)
    assert set(dlg.image_metrics(a, b)) == {"mse", "psnr", "ssim", "aligned_mse", "r2",
                                            "corrected_psnr", "corrected_ssim"}


def test_the_colour_correction_forgives_channel_gains_and_offsets_but_not_noise():
    generator = torch.Generator().manual_seed(5)
    truth = 0.2 + 0.6 * torch.rand(1, 3, 16, 16, generator=generator)
    tinted = 5.0 * truth * torch.tensor([1.0, 0.2, 3.0]).view(1, 3, 1, 1) - 1.0
    corrected = dlg.metrics.colour_corrected(tinted, truth)
    assert torch.allclose(corrected, truth, atol=1e-5)
    assert dlg.metrics.r_squared(tinted, truth) == pytest.approx(1.0, abs=1e-6)
    assert dlg.metrics.corrected_ssim(tinted, truth) == pytest.approx(1.0, abs=1e-4)
    assert dlg.ssim(tinted, truth) < 0.5  # the report's SSIM calls it lost
    noise = torch.rand(1, 3, 16, 16, generator=generator)
    assert dlg.metrics.r_squared(noise, truth) < -0.5  # about -1: worse than a flat image
    assert abs(dlg.metrics.corrected_ssim(noise, truth)) < 0.2
    # a flat reconstruction gets no credit for the colours the correction gives it
    assert dlg.metrics.r_squared(torch.zeros(1, 3, 16, 16), truth) == pytest.approx(0, abs=1e-6)
    negative = 1 - truth  # the negative is not forgiven
    assert dlg.metrics.r_squared(negative, truth) == pytest.approx(-3, abs=1e-4)


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
