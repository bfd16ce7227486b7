"""Probes of what the gradient shows."""

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.analysis.probes import gradient_gaps


def test_batch_norm_hides_contrast_from_resnet_but_not_from_lenet():
    changes = {"contrast": lambda x: 5 * x - 1, "noise": lambda x: x + 0.01}
    lenet = {row["change"]: row for row in gradient_gaps("lenet", "cat", changes)}
    resnet = {row["change"]: row for row in gradient_gaps("resnet18", "cat", changes)}
    assert lenet["contrast"]["gap"] > 0.05  # no batch norm: the gradient sees it
    assert resnet["contrast"]["gap"] < lenet["contrast"]["gap"] / 100  # batch norm hides it
    assert lenet["contrast"]["mse"] == pytest.approx(dlg.mse(
        5 * dlg.load_image("cat", 32).pixels - 1, dlg.load_image("cat", 32).pixels))


def test_uniform_noise_is_the_same_noise_of_the_images_shape():
    from dlg_helpers.analysis.probes import uniform_noise

    image = torch.zeros(1, 3, 8, 8)
    noise = uniform_noise(seed=3)
    assert noise(image).shape == image.shape and torch.equal(noise(image), noise(image))
    assert 0 <= float(noise(image).min()) and float(noise(image).max()) <= 1
