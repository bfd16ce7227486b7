"""The labels read off the shared gradient (iDLG)."""

import pytest
import torch
from torch import nn

import dlg_helpers as dlg
from dlg_helpers.attack.labels import classifier_gradient, idlg_labels


def test_idlg_labels_of_batches_of_distinct_labels():
    # Not always: when the network is confident in one image's class, the other images' share
    # of the bias gradient at that class is positive and can outweigh the image's own (-1/B).
    generator = torch.Generator().manual_seed(2)
    right = 0
    for trial in range(50):
        model = dlg.build_model("lenet", seed=trial)
        labels = torch.randperm(100, generator=generator)[:4]
        shared = dlg.shared_gradient(model, torch.rand(4, 3, 32, 32, generator=generator), labels)
        right += sorted(idlg_labels(model, shared, 4)) == sorted(labels.tolist())
    assert right >= 45  # measured: 48 of 50
    with pytest.raises(ValueError, match="cannot read 101 labels off a classifier of 100"):
        idlg_labels(model, shared, 101)


def test_idlg_label_is_right_on_fifty_random_images_and_initialisations():
    generator = torch.Generator().manual_seed(0)
    for trial in range(50):
        model = dlg.build_model("lenet", seed=trial)
        image = torch.rand(1, 3, 32, 32, generator=generator)
        label = int(torch.randint(0, 100, (1,), generator=generator))
        shared = dlg.shared_gradient(model, image, torch.tensor([label]))
        assert dlg.idlg_label(model, shared) == label, f"trial {trial}"


def test_idlg_label_without_a_bias_uses_the_weight_rows():
    generator = torch.Generator().manual_seed(1)
    for trial in range(20):
        torch.manual_seed(trial)
        model = nn.Sequential(nn.Flatten(), nn.Linear(48, 16), nn.Sigmoid(),
                              nn.Linear(16, 10, bias=False))
        label = trial % 10
        shared = dlg.shared_gradient(model, torch.rand(1, 3, 4, 4, generator=generator),
                                     torch.tensor([label]))
        assert classifier_gradient(model, shared)[1] is None
        assert dlg.idlg_label(model, shared) == label


def test_idlg_needs_a_linear_classifier():
    model = nn.Sequential(nn.Conv2d(3, 10, 4), nn.Flatten())
    shared = dlg.shared_gradient(model, torch.rand(1, 3, 4, 4), torch.tensor([2]))
    with pytest.raises(ValueError, match="nn.Linear classifier"):
        dlg.idlg_label(model, shared)
