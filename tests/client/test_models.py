"""The model registry and the networks it builds."""

import pytest
import torch
from torch import nn

import dlg_helpers as dlg
from dlg_helpers.client.activations import SigmoidForRelu, count_relu_calls
from dlg_helpers.client.models import KnownMaskDropout, LeNet, build_model

# Measured parameter counts (1000 classes, as torchvision builds them) beside the report's.
MEASURED = {
    "resnet18": 11_689_512,
    "densenet121": 7_978_856,
    "inception_v3": 27_161_264,
    "inception_v3_noaux": 23_834_568,
}


def test_lenet_is_the_original_dlg_network():
    model = dlg.build_model("lenet")
    assert dlg.count_parameters(model) == 85_036
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (3, 12, (5, 5), (2, 2), (2, 2)),
        (12, 12, (5, 5), (2, 2), (2, 2)),
        (12, 12, (5, 5), (1, 1), (2, 2)),
    ]
    assert sum(isinstance(m, nn.Sigmoid) for m in model.modules()) == 3
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert (model.fc.in_features, model.fc.out_features) == (768, 100)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 100)


def test_lenet_weights_are_uniform_in_half_interval():
    weights = torch.cat([p.detach().flatten() for p in LeNet().parameters()])
    assert weights.min() >= -0.5 and weights.max() <= 0.5
    assert weights.std().item() == pytest.approx(1 / 12 ** 0.5, rel=0.05)  # std of U(-0.5, 0.5)


def test_build_model_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = dlg.build_model("lenet", seed=7)
    assert torch.equal(torch.rand(1), expected_next)
    b = dlg.build_model("lenet", seed=7)
    c = dlg.build_model("lenet", seed=8)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.fc.weight, c.fc.weight)


def test_unknown_model_names_the_choices():
    with pytest.raises(KeyError, match="unknown model 'lenet5'.*lenet.*register_model"):
        dlg.get_spec("lenet5")


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        dlg.register_model(dlg.get_spec("lenet"))


def test_spec_carries_the_reports_setting():
    spec = dlg.get_spec("lenet")
    assert spec.image_size == 32
    assert spec.reported_parameters == 60_000
    assert spec.normalisation == dlg.Normalisation()


def test_normalisation_round_trip():
    norm = dlg.Normalisation(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    pixels = torch.rand(2, 3, 8, 8)
    model_input = norm.to_model_input(pixels)
    expected = (pixels[:, 0] - 0.485) / 0.229
    assert torch.allclose(model_input[:, 0], expected, atol=1e-6)
    assert torch.allclose(norm.to_pixels(model_input), pixels, atol=1e-6)


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_large_models_have_the_reports_settings_and_no_relu_modules(name):
    spec = dlg.get_spec(name)
    assert spec.image_size == (299 if name.startswith("inception") else 224)
    assert spec.normalisation.mean == (0.485, 0.456, 0.406)
    assert spec.normalisation.std == (0.229, 0.224, 0.225)
    model = dlg.build_model(name, seed=0)
    assert dlg.count_parameters(model) == MEASURED[name]
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert isinstance(model, SigmoidForRelu)  # functional ReLUs compute Sigmoid too


def test_inception_with_its_auxiliary_head_needs_a_batch_of_two():
    spec = dlg.get_spec("inception_v3")
    assert (spec.batch_size, spec.min_batch_size) == (2, 2)
    model = dlg.build_model("inception_v3", seed=0)
    one = spec.normalisation.to_model_input(torch.rand(1, 3, 299, 299))
    with pytest.raises(ValueError, match="one value per channel.*batch of at least 2"):
        dlg.shared_gradient(model, one, torch.tensor([1]))
    two = torch.cat([one, one.flip(-1)])
    grads = dlg.shared_gradient(model, two, torch.tensor([1, 2]))
    aux = [p for n, p in model.named_parameters() if "AuxLogits" in n]
    assert aux and len(grads) == len(list(model.parameters()))  # the aux head shares too


@pytest.mark.parametrize("size, inputs", [(16, 192), (32, 768), (64, 3072), (30, 768)])
def test_lenet_builds_for_any_image_side(size, inputs):
    model = dlg.build_model("lenet", size=size)
    assert model.fc.in_features == inputs
    assert model(torch.rand(1, 3, size, size)).shape == (1, 100)


def test_the_threat_variants_change_only_what_their_names_say():
    relu = dlg.build_model("lenet_relu", seed=0)
    sigmoid = dlg.build_model("lenet", seed=0)
    assert sum(isinstance(m, nn.ReLU) for m in relu.modules()) == 3
    assert all(torch.equal(a, b) for a, b in zip(relu.parameters(), sigmoid.parameters()))
    resnet = dlg.build_model("resnet18_relu", seed=0)
    assert not isinstance(resnet, SigmoidForRelu) and resnet.training
    assert dlg.count_parameters(resnet) == MEASURED["resnet18"]
    evaluation = dlg.build_model("resnet18_eval", seed=0)
    assert not evaluation.training and isinstance(evaluation, SigmoidForRelu)
    assert dlg.get_spec("resnet18_eval").min_batch_size == 1


def test_batch_norm_in_evaluation_mode_takes_a_single_image_at_any_side():
    one = torch.rand(1, 3, 32, 32)  # ResNet-18's last block sees 1x1 maps at 32x32
    with pytest.raises(ValueError, match="one value per channel"):
        dlg.shared_gradient(dlg.build_model("resnet18", seed=0, size=32), one, torch.tensor([1]))
    grads = dlg.shared_gradient(dlg.build_model("resnet18_eval", seed=0), one, torch.tensor([1]))
    assert all(torch.isfinite(g).all() for g in grads)


def test_the_naive_inception_keeps_its_functional_relus():
    naive = dlg.build_model("inception_v3_naive", seed=0)
    assert not isinstance(naive, SigmoidForRelu)
    assert not any(isinstance(m, nn.ReLU) for m in naive.modules())
    assert count_relu_calls(naive.eval(), torch.rand(1, 3, 299, 299)) > 90


def test_a_spec_with_an_unknown_batch_norm_mode_is_refused():
    with pytest.raises(ValueError, match="batch_norm must be 'training' or 'evaluation'"):
        dlg.ModelSpec("x", builder=lambda c, s: nn.Linear(1, 1), image_size=8,
                      normalisation=dlg.Normalisation(), num_classes=2, batch_norm="frozen")


def test_the_dropout_control_draws_a_fresh_mask_a_known_one_or_none():
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fresh, known, evaluation = (build_model(name, size=64) for name in (
            "resnet18_dropout", "resnet18_dropout_known", "resnet18_dropout_eval"))
        assert not torch.equal(fresh(x), fresh(x))  # a new mask on every pass
        assert torch.equal(known(x), known(x))      # the client's mask, every time
        assert torch.equal(evaluation(x), evaluation(x)) and not evaluation.training
    layer = KnownMaskDropout(0.5)
    kept = (layer(torch.ones(1000)) > 0).float().mean()
    assert 0.4 < kept < 0.6 and torch.equal(layer(torch.ones(1000)), layer(torch.ones(1000)))
    with pytest.raises(ValueError, match="dropout probability"):
        KnownMaskDropout(1.0)
