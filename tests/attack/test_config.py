"""The attack's settings: L-BFGS's line search, from the command line to the optimiser."""

from __future__ import annotations

import shlex
from dataclasses import asdict, replace

import pytest

from dlg_helpers.attack.config import AttackConfig, config_dict
from dlg_helpers.attack.engine import Attack
from dlg_helpers.attack.registry import attack_entry
from dlg_helpers.cli import _parser, attack_config
from dlg_helpers.client.victim import Victim
from dlg_helpers.runs.options import config_arguments
from dlg_helpers.runs.spec import REPORT_SETTING, RunSpec

WOLFE = AttackConfig(steps=4, line_search="strong_wolfe", progress=False)


def _line_search_fn(attack: Attack) -> str | None:
    return attack._attempt.optimizer.param_groups[0]["line_search_fn"]


def test_a_strong_wolfe_config_reaches_the_optimiser(lenet, cat, tmp_path):
    attack = Attack.against(Victim(lenet, cat.pixels, cat.label), WOLFE)
    attack.run(max_steps=2, checkpoint=tmp_path / "attack.pt")
    assert _line_search_fn(attack) == "strong_wolfe"
    resumed = Attack.resume(tmp_path / "attack.pt", Victim(lenet, cat.pixels, cat.label), WOLFE)
    assert _line_search_fn(resumed) == "strong_wolfe"  # and a resumed attack keeps it
    fixed = Attack.against(Victim(lenet, cat.pixels, cat.label), replace(WOLFE, line_search=None))
    fixed.run(max_steps=1)
    assert _line_search_fn(fixed) is None  # the report's fixed step


def test_an_unknown_line_search_fails_naming_the_allowed_values():
    with pytest.raises(ValueError, match="unknown line_search 'armijo'; use None .* strong_wolfe"):
        AttackConfig(line_search="armijo")
    with pytest.raises(ValueError, match="L-BFGS's"):
        AttackConfig.inverting_gradients(line_search="strong_wolfe")


def test_the_command_line_sets_the_line_search_and_writes_it_back(capsys):
    args = _parser().parse_args(["attack", "--line-search", "strong_wolfe", "--out", "x"])
    config = attack_config(args)
    assert config.line_search == "strong_wolfe"
    assert "--line-search strong_wolfe" in shlex.join(config_arguments(config))
    assert attack_config(_parser().parse_args(["attack", "--out", "x"])).line_search is None
    with pytest.raises(SystemExit):
        _parser().parse_args(["attack", "--line-search", "armijo", "--out", "x"])
    assert "invalid choice: 'armijo'" in capsys.readouterr().err
    assert "strong-Wolfe" in attack_entry(config).optimiser_text(config)


def test_a_configuration_stored_before_the_line_search_existed_takes_the_fixed_step():
    old = {k: v for k, v in asdict(REPORT_SETTING).items() if k != "line_search"}
    assert config_dict(old)["line_search"] is None
    assert AttackConfig(**config_dict(old)) == REPORT_SETTING


def test_the_fixed_step_keeps_every_folder_name_and_a_line_search_gets_its_own():
    # Folder names fixed before the line search existed (results/ holds these runs).
    assert RunSpec("lenet", "digit-0", REPORT_SETTING, trained_steps=400).folder_name == \
        "digit-0-seed0-0e3581"
    assert RunSpec("lenet", "cat", AttackConfig()).folder_name == "cat-seed0-9efc05"
    assert RunSpec("lenet", "cat", AttackConfig(snapshot_every=0)).folder_name == \
        "cat-seed0-fda578"
    assert RunSpec("lenet", "cat", AttackConfig.inverting_gradients()).folder_name == "cat-seed0-ig"
    wolfe = RunSpec("lenet", "digit-0", replace(REPORT_SETTING, line_search="strong_wolfe"),
                    trained_steps=400)
    assert wolfe.folder_name.startswith("digit-0-seed0-")
    assert wolfe.folder_name != "digit-0-seed0-0e3581"
