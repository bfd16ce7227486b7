"""The structured gradient distance: the same value and gradient as the direct form, without the
linear layers' weight gradients, in the solo and the batched engine."""

import pytest
import torch
from torch import nn

from dlg_helpers.attack.batched import BatchedAttack
from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.engine import Attack
from dlg_helpers.attack.objective import DISTANCES
from dlg_helpers.attack.structured import LinearTaps, linear_terms, target_terms
from dlg_helpers.client.models import build_model
from dlg_helpers.client.victim import Victim, victim
from dlg_helpers.measures.intervals import wilson

# float32 gradients differ by rounding only: relative errors near 1e-7 were measured; these
# tolerances leave room for other CPUs' summation orders and for deeper networks.
VALUE_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-4


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


@pytest.mark.parametrize("rows", [1, 3, 8])
def test_the_three_sums_are_those_of_the_formed_weight_gradient(rows):
    generator = torch.Generator().manual_seed(rows)
    h, d = torch.randn(rows, 20, generator=generator), torch.randn(rows, 7, generator=generator)
    target = torch.randn(7, 20, generator=generator)
    formed = d.T @ h  # G = Σ_r δ_r h_rᵀ
    terms = linear_terms(h, d, *target_terms(target))
    assert float(terms.own) == pytest.approx(float((formed ** 2).sum()), rel=1e-5)
    assert float(terms.dot) == pytest.approx(float((formed * target).sum()), rel=1e-5)
    for name, distance in DISTANCES.items():
        direct = distance([formed], [target])
        structured = distance([], [], [terms])
        assert float(structured) == pytest.approx(float(direct), rel=1e-5, abs=1e-6), name


def test_the_structured_distance_resolves_a_near_match_as_finely_as_the_direct_one():
    client = victim("lenet", "cat")
    config = AttackConfig(progress=False, label_mode="known")
    structured, direct = (Attack.against(client, config, structured=form).objective
                          for form in (True, False))
    logits = torch.zeros(1, 100)
    for offset in (1e-6, 1e-4):
        near = (client.inputs + offset * torch.randn_like(client.inputs)).requires_grad_(True)
        _, a = structured.evaluate(near, logits, create_graph=False)
        _, b = direct.evaluate(near, logits, create_graph=False)
        assert a == pytest.approx(b, rel=1e-2)  # 1e-9 to 1e-5: far above either form's floor


def two_forms(model: str, images: list[str], distance: str, label_mode: str, size: int):
    client = victim(model, images, size=size)
    config = AttackConfig(progress=False, distance=distance, label_mode=label_mode)
    attacks = []
    for form in (True, False):
        torch.manual_seed(0)  # a model with dropout shares one update (one mask) with both
        attacks.append(Attack.against(client, config, structured=form))
    return client, attacks


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("label_mode", ["joint", "known"])
@pytest.mark.parametrize("images", [["cat"], ["cat", "astronaut", "coffee"],
                                    [f"face-{i}" for i in range(8)]])
def test_solo_lenet_value_and_gradient_agree_with_the_direct_form(distance, label_mode, images):
    client, (structured, direct) = two_forms("lenet", images, distance, label_mode, 32)
    assert structured.objective.taps.weights == ["fc.weight"]
    assert direct.objective.taps is None
    generator = torch.Generator().manual_seed(len(images))
    dummy = torch.randn(client.inputs.shape, generator=generator).requires_grad_(True)
    logits = torch.randn(len(images), 100, generator=generator).requires_grad_(True)
    variables = [dummy] + ([logits] if label_mode == "joint" else [])
    values, gradients = [], []
    for attack in (structured, direct):
        value, _ = attack.objective.evaluate(dummy, logits, create_graph=True)
        values.append(value)
        gradients.append(torch.autograd.grad(value, variables))
    assert relative(values[0].detach(), values[1].detach()) < VALUE_TOLERANCE
    for a, b in zip(*gradients):
        assert relative(a, b) < GRADIENT_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("model,size", [("resnet18", 32), ("densenet121", 32),
                                        ("inception_v3_noaux", 75)])
def test_each_large_model_takes_its_classifier_and_agrees_with_the_direct_form(model, size):
    # Inception-v3 without its auxiliary head (which needs 299 pixels) takes 75.
    client, (structured, direct) = two_forms(model, ["cat", "astronaut"], "euclidean",
                                             "joint", size)
    assert structured.objective.taps
    assert all(name.endswith("fc.weight") or name.endswith("classifier.weight")
               for name in structured.objective.taps.weights)
    generator = torch.Generator().manual_seed(0)
    dummy = torch.randn(client.inputs.shape, generator=generator).requires_grad_(True)
    logits = torch.randn(2, structured.num_classes, generator=generator).requires_grad_(True)
    results = []
    for attack in (structured, direct):
        torch.manual_seed(0)  # Inception-v3's dropout draws one mask for both forms
        value, _ = attack.objective.evaluate(dummy, logits, create_graph=True)
        results.append((value.detach(), torch.autograd.grad(value, [dummy, logits])))
    assert relative(results[0][0], results[1][0]) < VALUE_TOLERANCE
    for a, b in zip(results[0][1], results[1][1]):
        assert relative(a, b) < GRADIENT_TOLERANCE


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("label_mode", ["joint", "known"])
@pytest.mark.parametrize("batch", [1, 4])
def test_batched_value_and_gradient_agree_with_the_direct_form(distance, label_mode, batch):
    model = build_model("lenet", seed=0)
    clients = [victim("lenet", [f"face-{i + j}" for j in range(batch)]) for i in range(3)]
    victims = [Victim(model, c.pixels, c.labels, c.normalisation) for c in clients]
    config = AttackConfig(progress=False, distance=distance, label_mode=label_mode)
    structured, direct = (BatchedAttack(victims, config, structured=form) for form in (True, False))
    assert structured.taps.weights == ["fc.weight"] and direct.taps is None
    points = torch.randn(3, structured.dim, generator=torch.Generator().manual_seed(batch))
    for rows in (torch.arange(3), torch.tensor([0, 2])):  # everyone, and a subset
        (value_a, gradient_a), (value_b, gradient_b) = (
            attack._evaluate(rows, points[rows]) for attack in (structured, direct))
        assert relative(value_a, value_b) < VALUE_TOLERANCE
        assert relative(gradient_a, gradient_b) < GRADIENT_TOLERANCE


def test_a_layer_whose_weight_is_used_without_calling_it_is_left_to_the_direct_form():
    class Borrowed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.borrowed = nn.Linear(4, 3), nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return nn.functional.linear(self.used(x.flatten(1)), self.borrowed.weight)

    model = Borrowed()
    taps = LinearTaps(model, torch.zeros(2, 1, 2, 2), [n for n, _ in model.named_parameters()])
    assert taps.weights == ["used.weight"]


def test_a_layer_called_a_different_number_of_times_is_refused_with_the_fix():
    class Sometimes(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer, self.twice = nn.Linear(4, 4), False

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.layer(x)
            return self.layer(y) if self.twice else y

    model = Sometimes()
    taps = LinearTaps(model, torch.zeros(1, 4), ["layer.weight", "layer.bias"])
    model.twice = True
    with pytest.raises(RuntimeError, match="structured=False"):
        with taps.tapped():
            model(torch.zeros(1, 4))


def test_a_shared_weight_is_left_to_the_direct_form():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)
            self.b.weight = self.a.weight

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(self.a(x))

    model = Tied()
    taps = LinearTaps(model, torch.zeros(1, 4), [n for n, _ in model.named_parameters()])
    assert not taps


@pytest.mark.slow
def test_solo_trajectories_agree_until_rounding_and_both_forms_reconstruct_the_cat():
    client = victim("lenet", "cat")
    config = AttackConfig(progress=False, steps=100)
    structured, direct = (Attack.against(client, config, structured=form).run()
                          for form in (True, False))
    # L-BFGS amplifies rounding over its 20 evaluations a step (2e-5 apart after the first step
    # here, as between two machines): compare the first two steps closely, then the outcome,
    # with room (both forms measured near 1e-3 after 100 steps).
    for a, b in zip(structured.history[:2], direct.history[:2]):
        assert a.grad_distance == pytest.approx(b.grad_distance, rel=1e-3)
    for result in (structured, direct):
        assert result.final_mse < 1e-2 and result.label_correct


@pytest.mark.slow
def test_direct_and_structured_success_rates_agree_within_their_intervals():
    # At 16x16 LeNet's attacks match within about 30 steps, so a full comparison is cheap; the
    # batched engine runs each form's twelve attacks at once.
    config = AttackConfig(steps=60, progress=False, snapshot_every=0)
    names = ["cat", "astronaut", "coffee", "rocket"] + [f"face-{i}" for i in range(8)]
    model = build_model("lenet", seed=0, size=16)
    clients = [victim("lenet", name, size=16) for name in names]
    clients = [Victim(model, c.pixels, c.labels, c.normalisation) for c in clients]

    def successes(structured: bool) -> int:
        results = BatchedAttack(clients, config, structured=structured).run()
        return sum(r.final_mse < 1e-3 and r.label_correct for r in results)

    structured, direct = successes(True), successes(False)
    low_s, high_s = wilson(structured, len(names))
    low_d, high_d = wilson(direct, len(names))
    assert low_s <= high_d and low_d <= high_s, (structured, direct)
    assert direct >= 8  # the comparison means something only if attacks succeed
