import pytest
import torch
from torch import nn

import dlg_helpers as dlg
from dlg_helpers.attack.labels import classifier_gradient, idlg_labels
from dlg_helpers.attack.objective import cosine_distance


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


def test_gradient_distance():
    a = [torch.ones(2, 2), torch.zeros(3)]
    b = [torch.zeros(2, 2), torch.full((3,), 2.0)]
    assert dlg.gradient_distance(a, a) == 0
    assert dlg.gradient_distance(a, b) == pytest.approx(4 + 12)
    with pytest.raises(ValueError):
        dlg.gradient_distance(a, b[:1])


def test_cosine_distance_sees_direction_not_size():
    a = [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])]
    assert float(cosine_distance(a, [5 * g for g in a])) == pytest.approx(0, abs=1e-6)
    assert float(cosine_distance(a, [-g for g in a])) == pytest.approx(2)
    orthogonal = [torch.tensor([2.0, -1.0]), torch.tensor([[0.0]])]
    assert float(cosine_distance(a, orthogonal)) == pytest.approx(1)


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
