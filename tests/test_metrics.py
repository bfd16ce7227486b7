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


def test_image_metrics_bundles_all_three():
    a, b = torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.1)
    assert set(dlg.image_metrics(a, b)) == {"mse", "psnr", "ssim"}
