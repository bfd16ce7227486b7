"""ReLU computing Sigmoid, module and functional calls alike."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models

from dlg_helpers.client.activations import count_relu_calls as relu_calls
from dlg_helpers.client.activations import replace_relu_modules, to_sigmoid


class _FunctionalRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.act = nn.ReLU()

    def forward(self, x):
        return F.relu(self.act(self.linear(x)), inplace=True) + torch.relu(x) + x.relu()


# torchvision builds with random weights: nothing downloads. Small inputs keep the test fast.
ARCHITECTURES = {
    "resnet18": (lambda: models.resnet18(weights=None), 64, 0),
    "densenet121": (lambda: models.densenet121(weights=None), 64, 1),
    "inception_v3": (lambda: models.inception_v3(weights=None, aux_logits=False,
                                                 init_weights=True), 75, 94),
}


def test_toy_model_module_and_functional_relus_all_become_sigmoid():
    model = _FunctionalRelu()
    x = torch.randn(3, 4)
    assert relu_calls(model, x) == 4
    swapped = to_sigmoid(model)
    assert relu_calls(swapped, x) == 0
    linear = model.linear(x)
    expected = torch.sigmoid(torch.sigmoid(linear)) + torch.sigmoid(x) + torch.sigmoid(x)
    assert torch.allclose(swapped(x), expected)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_no_relu_runs_in_the_swapped_model(name):
    build, size, functional_relus = ARCHITECTURES[name]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.rand(1, 3, size, size)
    assert relu_calls(model, x) > 0
    parameters = sum(p.numel() for p in model.parameters())
    swapped = to_sigmoid(model)
    assert relu_calls(swapped, x) == 0
    assert sum(p.numel() for p in swapped.parameters()) == parameters
    assert not any(isinstance(m, nn.ReLU) for m in swapped.modules())


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_the_naive_swap_leaves_the_functional_relus(name):
    build, size, functional_relus = ARCHITECTURES[name]
    model = build().eval()
    replace_relu_modules(model)
    # ResNet has only modules; DenseNet's forward and Inception's 94 BasicConv2d call F.relu.
    assert relu_calls(model, torch.rand(1, 3, size, size)) == functional_relus
    assert relu_calls(to_sigmoid(model, functional=False), torch.rand(1, 3, size, size)) == \
        functional_relus
