"""Training on shared, defended gradients: the cost side of a defence."""

from __future__ import annotations

import pytest
import torch

from dlg_helpers.defences import DPSGD, GaussianNoise, MagnitudePruning, dp_epsilon
from dlg_helpers.training import TrainingConfig, face_dataset, train

SHORT = TrainingConfig(epochs=4)


def test_the_faces_ship_with_labels():
    images, labels = face_dataset(32)
    assert images.shape == (200, 3, 32, 32)
    assert 0 <= float(images.min()) and float(images.max()) <= 1
    assert labels.tolist() == [1] * 100 + [0] * 100


def test_lenet_learns_faces_from_plain_gradients():
    result = train("lenet", None, TrainingConfig(epochs=10))
    assert result.accuracy >= 0.9  # measured: 0.98 after 30 epochs
    assert result.losses[-1] < result.losses[0] / 10
    assert result.epsilon is None and result.defence is None


def test_training_is_repeatable_and_keeps_the_weights_asked_for():
    config = TrainingConfig(epochs=2, keep_weights_at=(0, 10))
    first, second = train("lenet", GaussianNoise(1e-3), config), train("lenet", GaussianNoise(1e-3), config)
    assert first.losses == second.losses
    assert sorted(first.weights) == [0, 10]
    assert not torch.equal(first.weights[0]["body.0.weight"], first.weights[10]["body.0.weight"])


def test_heavy_noise_costs_accuracy():
    plain = train("lenet", None, SHORT)
    drowned = train("lenet", GaussianNoise(10.0), SHORT)
    assert drowned.accuracy < plain.accuracy - 0.2


def test_dpsgd_reports_the_epsilon_it_spends():
    result = train("lenet", DPSGD(1.0) + MagnitudePruning(0.5), SHORT)
    assert result.defence == "dpsgd:1.0+prune:0.5"
    assert result.epsilon == pytest.approx(dp_epsilon(1.0, 8 / 150, result.steps, 1e-5))
    assert result.steps == 4 * (150 // 8)


def test_diverging_training_names_the_fix():
    with pytest.raises(ValueError, match="training diverged.*lower lr"):
        train("lenet", None, TrainingConfig(epochs=3, lr=1e38))
