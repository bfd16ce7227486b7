"""A client's local SGD steps: one step is the gradient, several are the steps' sum, and an
attack that simulates them matches the update at the true images."""

from __future__ import annotations

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.attack.objective import _Objective
from dlg_helpers.client.gradients import classification_loss
from dlg_helpers.client.local_steps import LocalSteps, local_update
from dlg_helpers.client.victim import SharedUpdate, victim


def _client(count: int = 4):
    return victim("lenet", [f"face-{i}" for i in range(count)], size=16)


def test_one_step_is_the_gradient_and_the_model_is_left_alone():
    client = _client()
    before = [p.detach().clone() for p in client.model.parameters()]
    change = local_update(client.model, client.inputs, client.labels, LocalSteps(0.1))
    for got, want in zip(change, client.share().gradient, strict=True):
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-6 * float(want.abs().max()))
    assert all(torch.equal(a, b) for a, b in zip(before, client.model.parameters()))


def test_several_steps_are_what_torchs_sgd_does():
    client = _client()
    steps = LocalSteps(0.5, epochs=2, batch=2)
    assert steps.count(4) == 4 and not steps.single(4) and LocalSteps(0.1, 1, 4).single(4)
    model = dlg.build_model("lenet", seed=0, size=16)
    start = [p.detach().clone() for p in model.parameters()]
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(2):
        for first in (0, 2):
            optimiser.zero_grad()
            classification_loss(model(client.inputs[first:first + 2]),
                                    client.labels[first:first + 2]).backward()
            optimiser.step()
    want = [(a - p.detach()) / 0.5 for a, p in zip(start, model.parameters())]
    got = local_update(client.model, client.inputs, client.labels, steps)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, rtol=1e-4, atol=1e-6 * float(w.abs().max()))


def test_bad_local_steps_are_refused():
    for bad in (dict(lr=0.0), dict(lr=0.1, epochs=0), dict(lr=0.1, batch=0)):
        with pytest.raises(ValueError, match="local steps need"):
            LocalSteps(**bad)


def test_the_attack_that_simulates_the_steps_matches_at_the_true_images_only():
    client = _client()
    steps = LocalSteps(0.5, epochs=2, batch=1)
    change = local_update(client.model, client.inputs, client.labels, steps)
    logits = torch.nn.functional.one_hot(client.labels, 100).float() * 50
    config = dlg.AttackConfig(progress=False)
    simulating = _Objective(client.model, change, client.labels, config, steps)
    assuming = _Objective(client.model, [c / steps.count(4) for c in change], client.labels,
                          config)
    _, simulated = simulating.evaluate(client.inputs, logits, create_graph=False)
    _, assumed = assuming.evaluate(client.inputs, logits, create_graph=False)
    scale = float(sum((c ** 2).sum() for c in change))
    assert simulated < 1e-8 * scale < assumed, (simulated, assumed, scale)
    update = SharedUpdate(change, 4, tuple(client.inputs.shape), local_steps=steps)
    attack = dlg.Attack(client.model, update, dlg.AttackConfig(steps=2, progress=False,
                                                               label_mode="known"),
                        observer=client.ground_truth(), known_labels=client.labels)
    assert attack.run().evaluations > 0
