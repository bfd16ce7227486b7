"""Checkpoints: an interrupted attack resumes exactly."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.engine import Attack
from dlg_helpers.client.victim import Victim

# A plateau tolerance no attempt meets: every attempt stalls after a few steps and restarts, so
# the run crosses restarts (the hardest case to resume) whatever the float rounding.
CONFIG = AttackConfig(steps=24, seed=1, snapshot_every=5, patience=3, plateau_tolerance=0.99,
                      restart_ratio=1e-12, restarts=10, progress=False)


def _without_clock(result):
    return [{k: v for k, v in asdict(r).items() if k != "seconds"} for r in result.history]


@pytest.fixture()
def model():
    return dlg.build_model("lenet", seed=1)


def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(model, cat, tmp_path):
    whole = Attack.against(Victim(model, cat.pixels, cat.label), CONFIG).run()
    assert len(whole.attempts) >= 2

    path = tmp_path / "attack.pt"
    first = Attack.against(Victim(model, cat.pixels, cat.label), CONFIG)
    first.run(max_steps=1, checkpoint=path)  # interrupted inside the first start
    for _ in range(3):  # and again, each time from the file only
        resumed = Attack.resume(path, Victim(model, cat.pixels, cat.label), CONFIG)
        partial = resumed.run(max_steps=6, checkpoint=path)
        assert not resumed.finished
    final = Attack.resume(path, Victim(model, cat.pixels, cat.label), CONFIG).run(checkpoint=path)

    assert _without_clock(final) == _without_clock(whole)
    assert [a.status for a in final.attempts] == [a.status for a in whole.attempts]
    assert torch.equal(final.reconstruction, whole.reconstruction)
    assert sorted(final.snapshots) == sorted(whole.snapshots)
    assert final.wall_seconds >= partial.wall_seconds  # the clock carries over


def test_checkpoints_are_written_as_the_run_goes(model, cat, tmp_path):
    path = tmp_path / "run" / "attack.pt"
    Attack.against(Victim(model, cat.pixels, cat.label), CONFIG).run(
        max_steps=4, checkpoint=path, checkpoint_every=2)
    assert path.is_file() and not path.with_name("attack.pt.partial").exists()
    assert Attack.resume(path, Victim(model, cat.pixels, cat.label), CONFIG).step == 4


def test_resuming_with_other_settings_or_images_is_refused(model, cat, tmp_path):
    path = tmp_path / "attack.pt"
    Attack.against(Victim(model, cat.pixels, cat.label), CONFIG).run(max_steps=2, checkpoint=path)
    with pytest.raises(ValueError, match="other settings.*max_iter.*delete the checkpoint"):
        Attack.resume(path, Victim(model, cat.pixels, cat.label), replace(CONFIG, max_iter=5))
    coffee = dlg.load_image("coffee", 32)
    with pytest.raises(ValueError, match="other private images"):
        Attack.resume(path, Victim(model, coffee.pixels, cat.label), CONFIG)
    # The progress bar is not a setting: a checkpoint made quietly resumes with a bar.
    assert Attack.resume(path, Victim(model, cat.pixels, cat.label), replace(CONFIG, progress=True))


def test_missing_and_corrupt_checkpoints_are_refused(model, cat, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint.*start a new Attack"):
        Attack.resume(tmp_path / "none.pt", Victim(model, cat.pixels, cat.label), CONFIG)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        Attack.resume(broken, Victim(model, cat.pixels, cat.label), CONFIG)
