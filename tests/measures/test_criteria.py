"""The one place that decides what counts as reconstructed, still falling, diverged or leaked."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from dlg_helpers.analysis.comparison import group_summary
from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.trace import AttackResult, Attempt, StepRecord
from dlg_helpers.measures import criteria


def _run(aligned: list[float], statuses: tuple[str, ...] = ("budget",)) -> AttackResult:
    history = [StepRecord(step=i, attempt=0, grad_distance=1.0, mse=value, label_pred=[0],
                          evaluations=i, seconds=float(i), aligned_mse=value)
               for i, value in enumerate(aligned)]
    return AttackResult(reconstruction=torch.zeros(1, 3, 4, 4), truth=torch.zeros(1, 3, 4, 4),
                        label_true=[0], label_pred=[0], history=history,
                        attempts=[Attempt(seed=i, status=s, steps=len(aligned) - 1,
                                          best_distance=1.0) for i, s in enumerate(statuses)],
                        final_mse=0.0, config=AttackConfig())


def test_still_falling_has_one_definition_a_fall_of_more_than_one_percent():
    assert criteria.STILL_FALLING == 0.01 and criteria.FALLING_WINDOW == 100
    falling, resting, rising = _run([1.0, 0.98]), _run([1.0, 0.995]), _run([1.0, 1.5])
    assert criteria.fall(falling, window=1) == pytest.approx(0.02)
    assert criteria.still_falling(falling, window=1)
    assert not criteria.still_falling(resting, window=1)
    assert criteria.fall(rising, window=1) == pytest.approx(-0.5)
    assert not criteria.still_falling(rising, window=1)
    # the window reaches back no further than the start
    assert criteria.fall(_run([1.0, 0.5, 0.25]), step=2, window=100) == pytest.approx(0.75)


def test_reconstructed_and_diverged():
    assert criteria.reconstructed(9e-4) and not criteria.reconstructed(1e-3)
    assert criteria.reconstructed(0.009, threshold=0.01)
    assert criteria.diverged(_run([1.0], ("diverged", "diverged")))
    assert not criteria.diverged(_run([1.0], ("diverged", "budget")))

def test_a_leak_needs_the_first_rank_and_a_likeness_above_the_floor_and_the_lookalike():
    floor, margin = criteria.LEAK_FLOOR, criteria.LOOKALIKE_MARGIN
    photo, digit = floor - margin - 0.2, 0.9  # a photograph's look-alike is far, a digit's close
    assert criteria.leak_threshold(photo) == floor
    assert criteria.leak_threshold(digit) == pytest.approx(digit + margin)
    assert criteria.leaks(floor, 1, photo) and not criteria.leaks(floor - 0.01, 1, photo)
    assert not criteria.leaks(0.99, 2, photo)  # something else is more like it
    assert not criteria.leaks(digit + margin - 0.01, 1, digit)
    assert criteria.leaks(digit + margin, 1, digit)


def test_a_table_is_judged_from_its_scores_when_read():
    attacks = pd.DataFrame({"image_likeness": [[0.95, 0.2], [0.3]], "image_rank": [[1, 9], [1]],
                            "image_lookalike": [[0.5, 0.5], [0.5]]})
    judged = criteria.judge_table(attacks)
    assert judged["identified"].tolist() == [1, 0] and judged["leaks"].tolist() == [True, False]
    close = 0.86 - criteria.LOOKALIKE_MARGIN  # a look-alike that 0.85 does not clear
    images = pd.DataFrame({"likeness": [0.85, 0.85], "rank": [1, 1], "lookalike": [0.5, close]})
    assert criteria.judge_table(images)["leaks"].tolist() == [True, False]
    with pytest.raises(KeyError, match="lookalike"):
        criteria.judge_table(pd.DataFrame({"likeness": [0.9], "rank": [1]}))


def test_a_tables_threshold_is_the_one_its_rows_were_judged_against():
    row = {"group": "g", "mse": 1e-4, "aligned_mse": 1e-4, "ssim": 0.9, "best_ssim": 0.9,
           "r2": 0.99, "best_r2": 0.99, "best_corrected_ssim": 0.9, "likeness": 0.99,
           "leaks": True, "identified": 1, "batch": 1,
           "best_mse": 1e-4, "best_psnr": 40.0, "psnr": 40.0, "label_correct": True,
           "labels_recovered": 1, "label_true": [0], "reconstructed": True,
           "first_step_below": 10, "steps": 20, "evaluations": 100, "seconds": 1.0,
           "every_start_diverged": False}
    (summary,) = group_summary([{**row, "threshold": 1e-4}])
    assert summary["threshold"] == 1e-4
    with pytest.raises(ValueError, match="mixes rows judged against thresholds"):
        group_summary([{**row, "threshold": 1e-4}, {**row, "threshold": 1e-3}])


def test_halving_steps_at_the_rate_of_the_last_window():
    assert criteria.halving_steps(_run([1.0, 0.5]), window=1) == pytest.approx(1.0)
    assert criteria.halving_steps(_run([1.0, 0.75]), window=1) == pytest.approx(
        math.log(0.5) / math.log(0.75))
    assert criteria.halving_steps(_run([1.0, 1.5]), window=1) is None


def test_the_images_that_were_not_reconstructed(make_result):
    from dlg_helpers.analysis.comparison import unreconstructed

    # make_result's aligned MSE is a tenth of its MSE
    runs = {"good": make_result([1.0, 1e-3]), "bad": make_result([1.0, 0.5])}
    assert unreconstructed(runs, 1) == ["bad"]
    assert unreconstructed(runs, 1, metric="mse") == ["good", "bad"]
