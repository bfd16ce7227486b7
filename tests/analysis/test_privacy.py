"""DP-SGD's noise for a target epsilon, and the epsilon of the one release an attacker sees."""

import pytest

from dlg_helpers.analysis import privacy
from dlg_helpers.client.defences import dp_epsilon
from dlg_helpers.client.training import DATASETS, TrainingConfig, schedule


def test_the_noise_found_spends_the_target_epsilon_over_the_training():
    config = TrainingConfig(epochs=1)
    examples, steps = schedule(config, len(DATASETS["digits"](32)[1]))
    for target in (1.0, 8.0):
        noise = privacy.noise_for(target, config)
        spent = dp_epsilon(noise, config.batch_size / examples, steps, config.delta)
        assert spent == pytest.approx(target, rel=0.05) and spent <= target * 1.01
    assert privacy.noise_for(1.0, config) > privacy.noise_for(8.0, config)  # less ε, more noise
    assert privacy.dp_defence(8.0, config).startswith("dpsgd:") and privacy.dp_defence(
        8.0, config, clip=0.1).endswith(":0.1")


def test_one_certain_release_spends_far_more_than_a_sampled_training():
    config = TrainingConfig(epochs=1)
    noise = privacy.noise_for(2.0, config)
    assert privacy.release_epsilon(noise) > 2.0
    assert privacy.release_epsilon(1.0) == pytest.approx(4.73, abs=0.05)


def test_the_best_setting_of_each_target_is_the_most_accurate():
    rows = [{"target": t, "lr": lr, "accuracy": a} for t, lr, a in (
        (1.0, 0.1, 0.3), (1.0, 2.0, 0.6), (8.0, 0.1, 0.8), (8.0, 2.0, 0.7))]
    best = privacy.best_per_target(rows)
    assert [(b["target"], b["lr"], b["settings"]) for b in best] == [(1.0, 2.0, 2), (8.0, 0.1, 2)]
    assert best[0]["spread"] == (0.3, 0.6)
