"""The attack registry: one entry names, files and describes an attack everywhere."""

from __future__ import annotations

import logging
import shlex
from dataclasses import replace

import pytest

from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.registry import (
    ATTACKS,
    AttackEntry,
    attack_entry,
    register_attack,
)
from dlg_helpers.book.summaries import setting_table
from dlg_helpers.cli import main
from dlg_helpers.runs.record import list_records
from dlg_helpers.runs.spec import REPORT_SETTING, RunSpec
from dlg_helpers.runs.store import find_record, load_or_run


def _toy(steps: int = 6, **overrides) -> AttackConfig:
    """A toy attack: plain Adam on DLG's squared distance, iDLG's label."""
    settings = dict(steps=steps, optimiser="adam", lr=0.05, label_mode="idlg", match_ratio=0.0,
                    patience=0, restarts=0, attack="toy-adam")
    return AttackConfig(**{**settings, **overrides})


@pytest.fixture()
def toy():
    entry = register_attack(AttackEntry(
        key="toy-adam", display="toy Adam", folder_tag="-toy",
        summary="a toy for the tests (Adam on the squared distance)", preset=_toy))
    yield entry
    del ATTACKS[entry.key]


def test_the_two_attacks_of_the_course_are_registered():
    assert attack_entry("dlg").display == "DLG" and attack_entry("dlg").folder_tag == ""
    assert attack_entry(AttackConfig.inverting_gradients()).display == "inverting gradients"
    dlg_entry = attack_entry("dlg")
    assert dlg_entry.config() == AttackConfig() and dlg_entry.config(10).steps == 10
    assert attack_entry("inverting-gradients").config().steps == 6000
    assert attack_entry("dlg").standard_config() == REPORT_SETTING
    assert AttackConfig.inverting_gradients().name == "inverting gradients"


def test_an_unknown_attack_fails_with_the_registered_names():
    with pytest.raises(KeyError, match="unknown attack 'sparse'.*dlg, inverting-gradients"):
        attack_entry("sparse")
    with pytest.raises(ValueError, match="unknown attack 'sparse'.*register_attack"):
        AttackConfig(attack="sparse")


def test_a_second_adam_attack_is_its_own_attack(toy):
    """Adam alone no longer means inverting gradients: the name is the entry's."""
    config = toy.config()
    assert config.name == "toy Adam"
    spec = RunSpec("lenet", ("cat",), config)
    assert spec.folder_name == "cat-seed0-toy"  # the preset itself: no hash
    assert RunSpec("lenet", ("cat",), replace(config, lr=0.1)).folder_name.startswith(
        "cat-seed0-toy-")
    assert "Adam on the gradient, lr 0.05" in setting_table("lenet", config).data
    with pytest.raises(ValueError, match="folder tag '-toy' is taken"):
        register_attack(replace(toy, key="toy-2"))
    with pytest.raises(ValueError, match="registered already"):
        register_attack(toy)


def test_a_registered_attack_runs_through_the_cli_the_store_and_a_table(toy, tmp_path, capsys,
                                                                        caplog):
    spec = RunSpec("lenet", ("coffee",), toy.config())
    command = shlex.split(spec.command(tmp_path / "lenet" / spec.folder_name))
    assert "--attack toy-adam" in shlex.join(command)
    assert main(command[3:] + ["--no-progress"]) == 0
    assert find_record(spec, tmp_path)[0] == tmp_path / "lenet" / "coffee-seed0-toy"
    caplog.set_level(logging.INFO)
    result = load_or_run(spec, tmp_path)
    assert "loaded the stored run coffee-seed0-toy" in caplog.text
    assert result.config.attack == "toy-adam" and result.steps == 6
    (row,) = list_records(tmp_path)
    assert row["attack"] == "toy Adam"
    assert main(["records", str(tmp_path)]) == 0
    assert "| toy Adam |" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # the choices come from the registry
        main(["attack", "--attack", "toy-other", "--out", str(tmp_path / "x")])
