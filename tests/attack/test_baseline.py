"""The original DLG loop, and the engine following its trajectory."""

import pytest

from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.engine import Attack
from dlg_helpers.client.victim import Victim


def test_original_loop_runs_its_fixed_number_of_steps(lenet, cat):
    from dlg_helpers.attack.baseline import original_dlg

    victim = Victim(lenet, cat.pixels, cat.label)
    image, history = original_dlg(lenet, victim.share(), victim.ground_truth(), steps=5, seed=0)
    assert len(history) == 5 and image.shape == cat.pixels.shape
    assert history[-1].evaluations > 5


def test_engine_follows_the_original_trajectory_from_the_same_seed(lenet, cat):
    from dlg_helpers.attack.baseline import original_dlg

    victim = Victim(lenet, cat.pixels, cat.label)
    _, original = original_dlg(lenet, victim.share(), victim.ground_truth(), steps=8, seed=2)
    # The original forms every weight gradient; so does the engine asked to (structured=False).
    # The structured form's rounding differs, and L-BFGS amplifies it (tests/attack/
    # test_structured.py compares the two).
    result = Attack.against(victim, AttackConfig(steps=8, seed=2, progress=False),
                            structured=False).run()
    # Entry k of the engine is the state after k steps; the original measures after each step.
    assert [r.mse for r in result.history[1:9]] == pytest.approx([s.mse for s in original],
                                                                 rel=1e-5)
