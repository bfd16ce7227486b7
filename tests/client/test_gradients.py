"""The gradient a client shares."""

import pytest
import torch
from torch import nn

import dlg_helpers as dlg


def test_shared_gradient_covers_every_parameter(lenet, cat):
    grads = dlg.shared_gradient(lenet, cat.pixels, torch.tensor([cat.label]))
    assert [g.shape for g in grads] == [p.shape for p in lenet.parameters()]
    assert not any(g.requires_grad for g in grads)


def test_shared_gradient_checks_its_inputs(lenet):
    with pytest.raises(ValueError, match=r"batch \(B, C, H, W\)"):
        dlg.shared_gradient(lenet, torch.rand(3, 32, 32), torch.tensor([0]))
    with pytest.raises(ValueError, match="one label per image"):
        dlg.shared_gradient(lenet, torch.rand(2, 3, 32, 32), torch.tensor([0]))


def test_batch_norm_on_a_single_value_per_channel_needs_two_images():
    # Like Inception-v3's auxiliary head: batch norm after the map has shrunk to 1x1.
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(4),
                          nn.Sigmoid(), nn.Flatten(), nn.Linear(4, 10))
    with pytest.raises(ValueError, match="one value per channel.*batch of at least 2.*model.eval"):
        dlg.shared_gradient(model, torch.rand(1, 3, 8, 8), torch.tensor([1]))
    assert len(dlg.shared_gradient(model, torch.rand(2, 3, 8, 8), torch.tensor([1, 2]))) == 6
    model.eval()
    assert len(dlg.shared_gradient(model, torch.rand(1, 3, 8, 8), torch.tensor([1]))) == 6


def test_batch_norm_over_a_feature_map_takes_a_single_image():
    # ResNet-18 and DenseNet-121 normalise 7x7 or larger maps: a batch of one is fine there.
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sigmoid(), nn.Flatten(),
                          nn.Linear(144, 10))
    assert len(dlg.shared_gradient(model, torch.rand(1, 3, 8, 8), torch.tensor([1]))) == 6
