"""Flower's legacy protocol: SecAgg+ gives the server only the aggregate, rounded as its
max_weight says; the differential-privacy mods change what the server keeps."""

from __future__ import annotations

import subprocess

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.federation.legacy import (SecureAggregation, aggregate_update,
                                           run_legacy_federation)
from dlg_helpers.federation.simulation import FederationConfig, client_data, shared_update


def test_the_rounding_step_grows_with_max_weight_over_the_examples():
    default, tuned = SecureAggregation(), SecureAggregation(max_weight=1.0)
    assert default.rounding_step(1) == pytest.approx(1000 * tuned.rounding_step(1))
    assert tuned.rounding_step(1) == pytest.approx(16 / (4194304 - 1))


@pytest.mark.slow
def test_secure_aggregation_hides_the_replies_and_its_rounding_depends_on_max_weight(tmp_path):
    from flwr.client.mod import LocalDpMod

    config = FederationConfig((("face-2",), ("crop-coffee-2-1-0",), ("digit-5",)), size=16)
    data = [client_data(config, p) for p in range(3)]
    exact = dlg.shared_gradient(config.build(), torch.cat([d[0] for d in data]),
                                torch.cat([d[1] for d in data]))

    def error(kept):
        found = aggregate_update(config, kept)
        return float(sum(((a - b) ** 2).sum() for a, b in zip(found, exact))
                     / sum((b ** 2).sum() for b in exact))

    errors = {}
    for max_weight in (1.0, 1000.0):
        (kept,) = run_legacy_federation(config, tmp_path / f"w{max_weight:g}",
                                        secure=SecureAggregation(max_weight=max_weight))
        # the strategy is handed the aggregate once per client, and the examples in clear
        assert kept.examples == {0: 1, 1: 1, 2: 1}
        assert all(torch.equal(kept.replies[p][n], kept.aggregate[n])
                   for p in kept.replies for n in kept.aggregate)
        errors[max_weight] = error(kept)
    # measured: about 5e-8 at max_weight 1, 5e-2 at Flower's default of 1,000
    assert errors[1.0] < 1e-5 < 1e-3 < errors[1000.0], errors
    # local DP: every reply the server keeps is the clean update plus noise
    (noisy,) = run_legacy_federation(config, tmp_path / "dp",
                                     client_mods=[LocalDpMod(1.0, 1.0, 1e3, 1e-5)])
    update = shared_update(config, noisy, 0).gradient
    clean = dlg.shared_gradient(config.build(), data[0][0], data[0][1])
    change = float(sum(((a - b) ** 2).sum() for a, b in zip(update, clean)).sqrt()
                   / sum((b ** 2).sum() for b in clean).sqrt())
    assert 0.1 < change, change  # noise of about 0.8 of one step's change at ε = 1,000
    leftover = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True)
    assert not leftover.stdout.strip(), "Ray's processes outlived the federation"
