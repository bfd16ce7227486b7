"""Inverting gradients: the prior, the schedule, the command line and resumption."""

from __future__ import annotations

import shlex
from dataclasses import asdict, replace

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.attack.config import AttackConfig, config_dict
from dlg_helpers.attack.engine import Attack
from dlg_helpers.attack.objective import total_variation
from dlg_helpers.cli import _parser, attack_config
from dlg_helpers.client.victim import Victim
from dlg_helpers.runs.options import config_arguments


def _without_clock(result):
    return [{k: v for k, v in asdict(r).items() if k != "seconds"} for r in result.history]


def test_total_variation_is_zero_for_a_flat_image_and_one_per_unit_step():
    assert float(total_variation(torch.full((2, 3, 8, 8), 0.7))) == 0
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., 1::2] = 1  # every horizontal neighbour differs by 1, no vertical one does
    assert float(total_variation(stripes)) == pytest.approx(1)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        total_variation(torch.zeros(3, 8, 8))


def test_input_bounds_are_the_normalised_pixels_0_and_1():
    normalisation = dlg.get_spec("resnet18").normalisation
    low, high = normalisation.input_bounds(torch.zeros(2, 3, 5, 5))
    assert low.shape == high.shape == (1, 3, 1, 1)
    assert torch.allclose(normalisation.to_pixels(low), torch.zeros(1, 3, 1, 1), atol=1e-6)
    assert torch.allclose(normalisation.to_pixels(high), torch.ones(1, 3, 1, 1), atol=1e-6)


@pytest.mark.slow
def test_inverting_gradients_reconstructs_the_lenet_cat_with_its_label(lenet, cat):
    config = AttackConfig.inverting_gradients(steps=2000, trials=1, progress=False)
    result = dlg.reconstruct(lenet, cat.pixels, cat.label, config)
    assert result.label_correct
    assert result.final_mse < 0.02  # measured: 9.2e-3
    assert result.evaluations == 2001  # one per Adam step, and one of the final point
    assert 0 <= float(result.reconstruction.min()) and float(result.reconstruction.max()) <= 1


def test_trials_share_the_budget_and_the_smallest_distance_wins(lenet, cat):
    config = AttackConfig.inverting_gradients(steps=30, trials=3, progress=False)
    result = dlg.reconstruct(lenet, cat.pixels, cat.label, config)
    assert [a.steps for a in result.attempts] == [10, 20, 30]
    assert [a.status for a in result.attempts] == ["budget"] * 3
    assert result.best_distance == min(a.best_distance for a in result.attempts)
    assert len({a.seed for a in result.attempts}) == 3


def test_the_step_decays_tenfold_at_three_eighths_five_eighths_and_seven_eighths(lenet, cat):
    config = AttackConfig.inverting_gradients(steps=16, trials=1, progress=False)
    attack = Attack.against(Victim(lenet, cat.pixels, cat.label), config)
    rates = []
    for _ in range(16):
        attack.run(max_steps=1)
        if attack._attempt is not None:
            rates.append(attack._attempt.optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([0.1] * 6 + [0.01] * 4 + [1e-3] * 4 + [1e-4])


def test_an_interrupted_inverting_run_resumes_exactly(lenet, cat, tmp_path):
    config = AttackConfig.inverting_gradients(steps=24, trials=2, progress=False)
    victim = Victim(lenet, cat.pixels, cat.label)
    whole = Attack.against(victim, config).run()
    path = tmp_path / "attack.pt"
    Attack.against(victim, config).run(max_steps=7, checkpoint=path)
    Attack.resume(path, victim, config).run(max_steps=9, checkpoint=path)
    final = Attack.resume(path, victim, config).run()
    assert _without_clock(final) == _without_clock(whole)
    assert torch.equal(final.reconstruction, whole.reconstruction)


def test_the_command_line_gives_back_the_configuration():
    for config in (AttackConfig(), AttackConfig(patience=0, match_ratio=0.0, steps=50),
                   AttackConfig.inverting_gradients(),
                   AttackConfig.inverting_gradients(steps=60, tv_weight=0.5, optimiser="lbfgs",
                                                    signed=False),
                   AttackConfig.inverting_gradients(steps=90, snapshot_every=10, trials=1),
                   AttackConfig.inverting_gradients(boxed=False, lr_decay=False),
                   AttackConfig.inverting_gradients(steps=300),
                   AttackConfig.inverting_gradients(steps=300, optimiser="lbfgs", signed=False),
                   # fewer steps than the preset's trials: the command must give the trials
                   AttackConfig.inverting_gradients(steps=1, trials=1)):
        words = ["attack", "--model", "lenet", *config_arguments(config), "--no-progress",
                 "--out", "x"]
        assert attack_config(_parser().parse_args(words)) == replace(config, progress=False), words
    assert config_arguments(AttackConfig.inverting_gradients(steps=90)) == [
        "--seed", "0", "--attack", "inverting-gradients", "--steps", "90"]
    assert config_arguments(AttackConfig.inverting_gradients()) == [
        "--seed", "0", "--attack", "inverting-gradients"]


def test_the_inverting_gradients_option_keeps_its_own_budget():
    args = _parser().parse_args(["attack", "--attack", "inverting-gradients", "--out", "x"])
    assert attack_config(args).steps == AttackConfig.inverting_gradients().steps == 6000
    args = _parser().parse_args(["attack", "--out", "x"])
    assert attack_config(args).steps == 300


def test_settings_the_command_line_cannot_set_are_named():
    with pytest.raises(ValueError, match="cannot set max_pixel"):
        config_arguments(AttackConfig(max_pixel=10.0))


def test_configurations_stored_before_a_setting_existed_take_its_default():
    old = {k: v for k, v in asdict(AttackConfig()).items()
           if k not in ("optimiser", "distance", "tv_weight", "trials")}
    assert config_dict(old) == asdict(AttackConfig())
    assert shlex.join(config_arguments(AttackConfig(**old))) == "--seed 0"
    # stored before attacks were named: an Adam run was filed as inverting gradients
    ig = {k: v for k, v in asdict(AttackConfig.inverting_gradients()).items() if k != "attack"}
    assert config_dict(ig)["attack"] == "inverting-gradients"
    assert config_dict({**ig, "optimiser": "lbfgs", "signed": False})["attack"] == "dlg"
