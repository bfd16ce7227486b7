"""What a run leaves behind, and the queries asked of it."""

import math

import pytest


def test_settling_step_and_value_at(make_result):
    run = make_result([1.0, 0.5, 0.1, 0.06, 0.05, 0.05])
    assert run.settling_step() == 2  # from step 2 on, within twice the final 0.05
    assert run.settling_step(factor=1.0) == 4
    assert run.value_at(3) == 0.06 and run.value_at(3, "aligned_mse") == pytest.approx(0.006)
    assert make_result([1.0, math.nan, 0.1]).settling_step() == 2  # NaN is never settled
    with pytest.raises(ValueError, match="no record of step 9; this run has steps 0 to 5"):
        run.value_at(9)
    with pytest.raises(ValueError, match="factor must be at least 1"):
        run.settling_step(factor=0.5)
    assert run.first_step_below(0.01, "aligned_mse") == 3
    rising = make_result([0.07, 0.4, 0.56, 0.56])
    assert rising.settling_step() == 1  # a curve that rose has not settled where it started


def test_resting_step_is_where_lbfgs_stops_moving(make_result):
    # 20 evaluations per step, then one per step from step 3 on; the last record is the
    # attempt's final evaluation, not a step, so it neither starts nor ends a rest.
    resting = make_result([9, 5, 2, 1, 1, 1, 1], evaluations=[20, 40, 60, 61, 62, 63, 64])
    assert resting.resting_step() == 2
    moving = make_result([9, 5, 2, 1], evaluations=[20, 40, 60, 61])
    assert moving.resting_step() is None
