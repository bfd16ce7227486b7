"""A Flower federation: the server's kept updates give back the clients' gradients."""

from __future__ import annotations

import subprocess

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.client.local_steps import LocalSteps
from dlg_helpers.client.victim import victim
from dlg_helpers.federation.recover import gradient_from_step, weight_change
from dlg_helpers.measures.rows import result_row
from dlg_helpers.federation.simulation import (FederationConfig, client_truth, local_training,
                                               run_federation, shared_update)


def test_one_sgd_step_is_read_back_as_its_gradient_exactly():
    config = FederationConfig((("cat",), ("face-1",)), lr=0.5)
    model = dlg.build_model("lenet", seed=0)
    sent = {k: v.clone() for k, v in model.state_dict().items()}
    sample = dlg.load_image("cat", 32)
    local_training(model, sample.pixels, torch.tensor([sample.label]), config)
    recovered = gradient_from_step(dlg.build_model("lenet", seed=0), sent, model.state_dict(), 0.5)
    true = dlg.shared_gradient(dlg.build_model("lenet", seed=0), sample.pixels,
                               torch.tensor([sample.label]))
    for got, want in zip(recovered, true, strict=True):
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-6 * float(want.abs().max()))
    with pytest.raises(KeyError, match="another model"):
        weight_change(model, {}, model.state_dict())
    with pytest.raises(ValueError, match="positive"):
        gradient_from_step(model, sent, sent, 0.0)


def test_a_federation_needs_two_clients_with_images():
    with pytest.raises(ValueError, match="two clients"):
        FederationConfig((("cat",),))
    with pytest.raises(ValueError, match="local_batch"):
        FederationConfig((("cat",), ("coffee",)), local_batch=0)


@pytest.mark.slow
def test_an_update_that_travelled_through_flower_leaks_as_the_gradient_does(tmp_path):
    # One federation (Ray's start is most of its time) answers three questions.
    config = FederationConfig((("face-2",), ("crop-coffee-2-1-0",)), lr=0.1, size=16)
    (kept,) = run_federation(config, tmp_path / "run")
    assert sorted(kept.replies) == [0, 1] and kept.examples == {0: 1, 1: 1}
    model = dlg.build_model("lenet", seed=0, size=16)
    attack_config = dlg.AttackConfig(steps=60, progress=False, snapshot_every=0)
    for partition, (name,) in enumerate(config.partitions):
        client = victim("lenet", name, size=16, network=model)
        # 1. the server reads the client's gradient off the weights, to float rounding
        update = shared_update(config, kept, partition)
        true = client.share().gradient
        error = max(float((a - b).norm() / b.norm()) for a, b in zip(update.gradient, true))
        assert error < 1e-4, (partition, error)
        # 2. and DLG does with it what it does with the gradient itself
        through_flower = dlg.Attack(model, update, attack_config,
                                    observer=client_truth(config, partition)).run()
        direct = dlg.Attack.against(client, attack_config).run()
        rows = [result_row(r) for r in (through_flower, direct)]
        assert [row["leaks"] for row in rows] == [True, True], rows
        assert through_flower.label_pred == direct.label_pred == direct.label_true
    # with two local steps the update says so, and an attack simulates them
    two_steps = FederationConfig(config.partitions, lr=0.1, local_epochs=2, size=16)
    assert shared_update(two_steps, kept, 0).local_steps == LocalSteps(0.1, 2, None)
    # 3. Ray's files stayed in the run's folder, and none of its processes outlived the run
    assert (tmp_path / "run" / "ray").is_dir()
    import ray

    assert not ray.is_initialized()
    leftover = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True)
    assert not leftover.stdout.strip(), "Ray's processes outlived the federation"
