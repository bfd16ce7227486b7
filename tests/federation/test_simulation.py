"""A Flower federation: the server's kept updates give back the clients' gradients."""

from __future__ import annotations

import subprocess

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.federation.recover import gradient_from_step, weight_change
from dlg_helpers.federation.simulation import FederationConfig, local_training, run_federation



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
def test_updates_that_travelled_through_flower_give_each_clients_gradient(tmp_path):
    config = FederationConfig((("face-0",), ("digit-3",)), lr=0.1)
    (kept,) = run_federation(config, tmp_path / "run")
    assert sorted(kept.replies) == [0, 1] and kept.examples == {0: 1, 1: 1}
    model = dlg.build_model("lenet", seed=0)
    for partition, (name,) in enumerate(config.partitions):
        sample = dlg.load_image(name, 32)
        true = dlg.shared_gradient(model, sample.pixels, torch.tensor([sample.label]))
        recovered = gradient_from_step(model, kept.sent, kept.replies[partition], config.lr)
        error = max(float((a - b).norm() / b.norm()) for a, b in zip(recovered, true))
        assert error < 1e-4, (partition, error)
    assert (tmp_path / "run" / "ray").is_dir()  # Ray's files stayed in the run's folder
    import ray

    assert not ray.is_initialized()
    leftover = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True)
    assert not leftover.stdout.strip(), "Ray's processes outlived the federation"
