"""Training on shared, defended gradients."""

from __future__ import annotations

import pytest
import torch

from dlg_helpers.client.defences import (
    DPSGD,
    GaussianNoise,
    MagnitudePruning,
    dp_epsilon,
)
from dlg_helpers.client.training import (
    TrainingConfig,
    digits_dataset,
    face_dataset,
    train,
    trained_weights,
)

SHORT = TrainingConfig(epochs=1)


def test_the_faces_ship_with_labels():
    images, labels = face_dataset(32)
    assert images.shape == (200, 3, 32, 32)
    assert 0 <= float(images.min()) and float(images.max()) <= 1
    assert labels.tolist() == [1] * 100 + [0] * 100


def test_the_digits_ship_with_labels():
    images, labels = digits_dataset(32)
    assert images.shape == (1797, 3, 32, 32)
    assert 0 <= float(images.min()) and float(images.max()) <= 1
    assert sorted(set(labels.tolist())) == list(range(10))


def test_lenet_learns_faces_and_digits_from_plain_gradients():
    faces = train("lenet", None, TrainingConfig(dataset="faces", epochs=10))
    assert faces.accuracy >= 0.9  # measured: 0.98 after 30 epochs
    assert faces.losses[-1] < faces.losses[0] / 10
    assert faces.epsilon is None and faces.defence is None
    digits = train("lenet", None, TrainingConfig(epochs=3))
    assert digits.accuracy >= 0.85  # measured: 0.93; chance is 0.1


def test_an_unknown_dataset_is_named():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; use one of digits, faces"):
        TrainingConfig(dataset="cifar")


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
    assert result.epsilon == pytest.approx(dp_epsilon(1.0, 8 / 1348, result.steps, 1e-5))
    assert result.steps == 1348 // 8


def test_diverging_training_names_the_fix():
    with pytest.raises(ValueError, match="training diverged.*lower lr"):
        train("lenet", None, TrainingConfig(epochs=3, lr=1e38))


def test_trained_weights_are_the_weights_after_that_many_steps():
    run = trained_weights("lenet", 200, seed=0)
    assert list(run.weights) == [200] and run.kept_accuracy[200] > 0.5  # it has learnt
    again = trained_weights("lenet", 200, seed=0)
    assert all(torch.equal(again.weights[200][k], v) for k, v in run.weights[200].items())
    with pytest.raises(ValueError, match="steps must be 0 or more"):
        trained_weights("lenet", -1)
    both = trained_weights("lenet", [0, 200], seed=0)  # one run keeps every point asked for
    assert sorted(both.kept_accuracy) == [0, 200]
    assert both.kept_accuracy[200] == run.kept_accuracy[200]


def test_a_step_budget_stops_mid_epoch_on_the_same_weights_as_whole_epochs():
    whole = train("lenet", None, TrainingConfig(epochs=2, keep_weights_at=(200,)))
    budget = train("lenet", None, TrainingConfig(steps=200, keep_weights_at=(200,)))
    assert budget.steps == 200 and len(budget.losses) == 200  # 168 steps an epoch: mid-epoch
    assert all(torch.equal(budget.weights[200][k], v) for k, v in whole.weights[200].items())
    with pytest.raises(ValueError, match="steps must be 0 or more"):
        TrainingConfig(steps=-1)


def test_a_batch_larger_than_the_training_set_names_the_fix():
    with pytest.raises(ValueError, match="exceeds the 150 training images.*lower batch_size"):
        train("lenet", None, TrainingConfig(dataset="faces", batch_size=151))
