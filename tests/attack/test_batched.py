"""The batched engine: its optimisers against torch's, its objective against the one-at-a-time
engine's, and each attack in a batch against the same attack run alone.

L-BFGS on DLG's objective turns a difference in the last bit into a visibly different
trajectory: nudging the start of a solo run by one part in 10^7 moved the distance after three
steps of 20 iterations by up to 80 % on LeNet faces, and after three steps of 3 iterations by up
to 3e-3 (the batched engine, against the solo one, by up to 2e-3 there). So trajectories are
compared over three steps of 3 iterations each, with a tolerance a few times that, and the full
setting by its outcomes.
"""

from __future__ import annotations

import math

import pytest
import torch

from dlg_helpers.attack.batched import BatchedAttack, reconstruct_many
from dlg_helpers.attack.batched_optim import BatchedAdam, BatchedLBFGS
from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.engine import Attack
from dlg_helpers.client.models import build_model
from dlg_helpers.client.victim import Victim, victim
from dlg_helpers.measures.intervals import wilson

TRAJECTORY_RTOL = 1e-2  # over three steps of 3 iterations: 3x the largest effect of a nudge
# The same objective at the same start, summed over LeNet's 85,036 float32 gradient entries in
# another order (a batch's kernels against one attack's; both differ between CPU kinds):
# measured up to 1.7e-6 apart on an AVX-512/AMX machine.
START_RTOL = 1e-5
SHORT = dict(steps=3, max_iter=3, progress=False, snapshot_every=0)


def _problems(count: int, dim: int):
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(count, dim, dim, generator=generator)
    a = a @ a.transpose(1, 2) / dim + 0.1 * torch.eye(dim)
    b = torch.randn(count, dim, generator=generator)

    def value(k: int, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x @ a[k] @ x - b[k] @ x + 0.1 * (x ** 4).sum()

    def evaluate(rows, points):
        points = points.clone().requires_grad_(True)
        values = torch.stack([value(int(k), p) for k, p in zip(rows, points)])
        (gradient,) = torch.autograd.grad(values.sum(), points)
        return values.detach(), gradient

    return value, evaluate, torch.randn(count, dim, generator=generator)


def test_batched_lbfgs_takes_torchs_steps_for_every_row_through_a_full_history():
    value, evaluate, start = _problems(5, 30)
    optimiser = BatchedLBFGS(5, 30, history_size=5, max_iter=20)  # the ring fills and wraps
    points = start.clone()
    for _ in range(6):
        optimiser.step(torch.arange(5), points, evaluate)
    for k in range(5):
        x = start[k].clone().requires_grad_(True)
        reference = torch.optim.LBFGS([x], lr=1, history_size=5, max_iter=20)

        def closure():
            reference.zero_grad()
            loss = value(k, x)
            loss.backward()
            return loss

        for _ in range(6):
            reference.step(closure)
        assert torch.allclose(points[k], x.detach(), atol=1e-4), k
        assert int(optimiser.stored[k]) == len(reference.state[x]["old_dirs"]) == 5


def test_batched_lbfgs_steps_only_the_rows_asked_and_restarts_a_reset_row():
    _, evaluate, start = _problems(3, 10)
    optimiser = BatchedLBFGS(3, 10, history_size=4, max_iter=5)
    points = start.clone()
    optimiser.step(torch.tensor([0, 2]), points, evaluate)
    assert torch.equal(points[1], start[1])
    assert not torch.equal(points[0], start[0])
    optimiser.reset(torch.tensor([0]))
    assert int(optimiser.stored[0]) == 0 and int(optimiser.n_iter[0]) == 0
    assert int(optimiser.stored[2]) > 0


def test_batched_adam_is_torchs_adam_row_by_row():
    value, evaluate, start = _problems(4, 8)
    optimiser = BatchedAdam(4, 8)
    points = start.clone()
    rates = torch.tensor([0.1, 0.05, 0.2, 0.01])
    for _ in range(40):
        _, gradient = evaluate(torch.arange(4), points)
        optimiser.step(torch.arange(4), points, gradient, rates)
    for k in range(4):
        x = start[k].clone().requires_grad_(True)
        reference = torch.optim.Adam([x], lr=float(rates[k]))
        for _ in range(40):
            reference.zero_grad()
            value(k, x).backward()
            reference.step()
        assert torch.allclose(points[k], x.detach(), atol=1e-5), k


@pytest.mark.parametrize("label_mode", ["joint", "idlg"])
def test_the_batched_objective_is_the_engines_for_shared_and_own_weights(label_mode):
    config = AttackConfig(label_mode=label_mode, tv_weight=0.01, progress=False)
    victims = [victim("lenet", name, seed=seed) for name, seed in
               (("cat", 0), ("face-3", 1), ("coffee", 2))]
    batch = BatchedAttack(victims, config)
    assert not batch.shared_weights
    points = torch.randn(3, batch.dim, generator=torch.Generator().manual_seed(1))
    values, gradients = batch._evaluate(torch.arange(3), points)
    for k, client in enumerate(victims):
        attack = Attack.against(client, config)
        dummy = points[k, :batch.image_size].view(batch.input_shape).clone().requires_grad_(True)
        logits = (points[k, batch.image_size:].view(batch.logits_shape).clone() if label_mode
                  == "joint" else torch.zeros(batch.logits_shape)).requires_grad_(True)
        value, distance = attack.objective.evaluate(dummy, logits, create_graph=True)
        value.backward()
        expected = dummy.grad.flatten() if label_mode == "idlg" else torch.cat(
            [dummy.grad.flatten(), logits.grad.flatten()])
        assert math.isclose(float(values[k]), float(value), rel_tol=1e-5)
        assert math.isclose(float(batch.best_distance[k]), distance, rel_tol=1e-5)
        assert torch.allclose(gradients[k], expected, rtol=1e-3,
                              atol=1e-5 * float(expected.abs().max()))


def _shared(names: list[str], seed: int = 0) -> list[Victim]:
    model = build_model("lenet", seed=seed)
    clients = [victim("lenet", name, seed=seed) for name in names]
    return [Victim(model, c.pixels, c.labels, c.normalisation) for c in clients]


def _distances(result, steps: int) -> list[float]:
    return [r.grad_distance for r in result.history[:steps]]


@pytest.mark.slow
def test_one_attack_batched_follows_its_solo_trajectory():
    config = AttackConfig(**SHORT)
    client = victim("lenet", "cat", seed=0)
    alone = Attack.against(client, config).run()
    (batched,) = reconstruct_many([client], config)
    assert batched.history[0].grad_distance == pytest.approx(alone.history[0].grad_distance,
                                                             rel=START_RTOL)
    assert _distances(batched, 4) == pytest.approx(_distances(alone, 4), rel=TRAJECTORY_RTOL)
    assert [r.evaluations for r in batched.history] == [r.evaluations for r in alone.history]
    assert batched.label_pred == alone.label_pred and batched.status == alone.status


@pytest.mark.slow
def test_each_of_sixteen_batched_attacks_follows_its_solo_run_over_the_first_steps():
    config = AttackConfig(**SHORT)
    clients = _shared([f"face-{i}" for i in range(16)])
    seeds = list(range(16))
    results = reconstruct_many(clients, config, seeds)
    for client, seed, batched in zip(clients, seeds, results):
        alone = Attack.against(client, AttackConfig(seed=seed, **SHORT)).run()
        assert batched.config.seed == seed
        assert batched.history[0].grad_distance == pytest.approx(
            alone.history[0].grad_distance, rel=START_RTOL)
        assert _distances(batched, 4) == pytest.approx(_distances(alone, 4),
                                                       rel=TRAJECTORY_RTOL), seed


@pytest.mark.slow
def test_inverting_gradients_batched_follows_its_solo_run():
    config = AttackConfig.inverting_gradients(steps=40, trials=2, progress=False,
                                              snapshot_every=0)
    clients = _shared(["cat", "face-1", "astronaut"])
    results = reconstruct_many(clients, config)
    for client, batched in zip(clients, results):
        alone = Attack.against(client, config).run()
        assert [a.seed for a in batched.attempts] == [a.seed for a in alone.attempts]
        assert [a.steps for a in batched.attempts] == [a.steps for a in alone.attempts] == [20, 40]
        assert _distances(batched, 5) == pytest.approx(_distances(alone, 5), rel=TRAJECTORY_RTOL)
        assert float(batched.reconstruction.min()) >= 0 and float(batched.reconstruction.max()) <= 1


@pytest.mark.slow
def test_a_diverging_batch_restarts_each_attack_as_the_engine_would():
    config = AttackConfig(steps=30, lr=50.0, restarts=2, progress=False, snapshot_every=0)
    clients = _shared(["cat", "coffee"])
    results = reconstruct_many(clients, config)
    for client, batched in zip(clients, results):
        alone = Attack.against(client, config).run()
        assert [a.seed for a in batched.attempts] == [a.seed for a in alone.attempts]
        assert batched.attempts[0].status == alone.attempts[0].status == "diverged"


@pytest.mark.slow
def test_batched_and_solo_success_rates_agree_within_their_intervals():
    # At 16x16 LeNet's attacks match within about 30 steps, so a full comparison is cheap.
    config = AttackConfig(steps=60, progress=False, snapshot_every=0)
    names = ["cat", "astronaut", "coffee", "rocket", "face-0", "face-1", "face-2", "face-3"]
    model = build_model("lenet", seed=0, size=16)
    clients = [victim("lenet", name, size=16) for name in names]
    clients = [Victim(model, c.pixels, c.labels, c.normalisation) for c in clients]
    batched = reconstruct_many(clients, config)
    alone = [Attack.against(client, config).run() for client in clients]

    def successes(results):
        return sum(r.final_mse < 1e-3 and r.label_correct for r in results)

    low_b, high_b = wilson(successes(batched), len(names))
    low_a, high_a = wilson(successes(alone), len(names))
    assert low_b <= high_a and low_a <= high_b, (successes(batched), successes(alone))
    assert successes(alone) >= 6  # the comparison means something only if attacks succeed


def test_bad_batches_are_refused_with_the_fix():
    cat32 = victim("lenet", "cat")
    cat16 = victim("lenet", "cat", size=16)
    with pytest.raises(ValueError, match="differ in shape"):
        BatchedAttack([cat32, cat16])
    with pytest.raises(ValueError, match="one run at a time"):
        BatchedAttack([victim("resnet18", "cat", size=32)])
    with pytest.raises(ValueError, match="line search"):
        BatchedAttack([cat32], AttackConfig(line_search="strong_wolfe"))
    with pytest.raises(ValueError, match="seeds"):
        BatchedAttack([cat32], seeds=[0, 1])
    with pytest.raises(ValueError, match="at least one"):
        BatchedAttack([])
    assert BatchedAttack.refusal(cat32.model, AttackConfig()) is None


def test_batched_lbfgs_gives_the_same_steps_for_few_rows_as_for_many():
    # Few rows read their share of the history, many rows multiply all of it: same numbers.
    value, evaluate, start = _problems(6, 12)
    few, many = start.clone(), start.clone()
    alone = BatchedLBFGS(6, 12, history_size=4, max_iter=8)
    together = BatchedLBFGS(6, 12, history_size=4, max_iter=8)
    for _ in range(4):
        alone.step(torch.tensor([1]), few, evaluate)  # 1 of 6 rows: the copying path
        together.step(torch.arange(6), many, evaluate)  # all rows: the multiplying path
    assert torch.allclose(few[1], many[1], atol=1e-5)
    assert torch.equal(few[0], start[0])
