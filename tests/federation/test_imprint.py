"""A malicious server's imprint block gives the images of a batch back from its gradient."""

from __future__ import annotations

import torch

import dlg_helpers as dlg
from dlg_helpers.client.images import load_image
from dlg_helpers.client.pool import pool_sample
from dlg_helpers.federation.imprint import Imprint, ImprintBlock, imprinted_model, recover_images


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
