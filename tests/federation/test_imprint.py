"""A malicious server's imprint block gives the images of a batch back from its gradient."""

from __future__ import annotations

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.client.images import load_image
from dlg_helpers.client.pool import pool_sample
from dlg_helpers.federation.imprint import (Imprint, ImprintBlock, alone_in_bins,
                                            equal_bins_estimate, imprinted_model,
                                            recover_images, recovered_exactly, recovery_grid)


def test_the_thresholds_rise_and_the_block_keeps_the_input_shape():
    imprint = Imprint(bins=16, mean=0.4, std=0.2)
    thresholds = imprint.thresholds()
    assert torch.all(thresholds[1:] > thresholds[:-1]) and abs(float(thresholds.mean()) - 0.4) < 0.01
    block = ImprintBlock(imprint, 8)
    assert block(torch.rand(2, 3, 8, 8)).shape == (2, 3, 8, 8)


def test_most_images_of_a_batch_come_back_exactly_from_its_gradient():
    samples = [load_image(image.name, 32) for image in pool_sample(16, seed=3)]
    pixels = torch.cat([s.pixels for s in samples])
    labels = torch.tensor([s.label for s in samples])
    model = imprinted_model(dlg.build_model("lenet", seed=0), Imprint(128, 0.41, 0.19), 32)
    gradient = dlg.shared_gradient(model, pixels, labels)
    found = recover_images(gradient[0], gradient[1], 32)
    distances = ((found[None] - pixels[:, None]) ** 2).flatten(2).mean(2).min(1).values
    # 16 images in 128 bins: a collision or two is likely, the rest are exact
    assert int((distances < 1e-6).sum()) >= 12, distances


def test_an_image_alone_between_two_thresholds_comes_back_and_two_together_blend():
    imprint = Imprint(bins=64, mean=0.5, std=0.15)
    shades = torch.tensor([0.2, 0.5, 0.5, 0.8])  # the middle two share a bin
    pixels = shades.view(-1, 1, 1, 1) + 0.05 * torch.rand(4, 3, 16, 16,
                                                          generator=torch.Generator().manual_seed(0))
    pixels = pixels - pixels.mean((1, 2, 3), keepdim=True) + shades.view(-1, 1, 1, 1)
    assert alone_in_bins(pixels, imprint).tolist() == [True, False, False, True]
    recovered = recovered_exactly(pixels, imprint).tolist()
    # a shared bin gives back a blend weighted by each image's loss gradient: at most one of
    # the two (the one that dominates the blend) can come back within the threshold
    assert recovered[0] and recovered[3] and not all(recovered[1:3])


def test_the_equal_bins_estimate_is_the_chance_that_no_other_image_shares_the_bin():
    assert equal_bins_estimate(128, 1) == 1
    assert equal_bins_estimate(128, 128) == pytest.approx((127 / 128) ** 127)
    assert equal_bins_estimate(1024, 8) > equal_bins_estimate(32, 8)


def test_the_grid_has_a_row_per_bins_and_batch_and_more_bins_recover_more():
    pixels = torch.rand(32, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    rows = recovery_grid(pixels, bins=(8, 256), images=(4, 32), mean=0.5, std=0.02)
    assert [(r["bins"], r["images"]) for r in rows] == [(8, 4), (8, 32), (256, 4), (256, 32)]
    exact = {(r["bins"], r["images"]): r["exact"] for r in rows}
    assert exact[256, 32] > exact[8, 32]
    # what is read back exactly is what the collisions leave
    assert all(abs(r["exact"] - r["alone"]) <= 0.1 for r in rows)
