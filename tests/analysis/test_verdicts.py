"""The verdicts on the report's claims: numbers and a typed verdict, never words."""

from pathlib import Path

import pytest
import torch

from dlg_helpers.analysis import verdicts as v
from dlg_helpers.analysis.verdicts import Verdict
from dlg_helpers.attack.trace import AttackResult, Attempt, StepRecord
from dlg_helpers.measures.intervals import wilson
from dlg_helpers.measures.metrics import mse, ssim

RESULTS = Path(__file__).resolve().parents[2] / "results"


def _run(mses, evaluations=None, status="budget", truth=None, picture=True):
    """A stored-run stand-in: the MSE after each step, and a reconstruction that is the truth
    (picture=True) or noise."""
    truth = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) \
        if truth is None else truth
    evaluations = evaluations or [20 * step for step in range(len(mses))]
    history = [StepRecord(step=s, attempt=0, grad_distance=m, mse=m, label_pred=[1],
                          evaluations=e, seconds=float(s), aligned_mse=m)
               for s, (m, e) in enumerate(zip(mses, evaluations))]
    reconstruction = truth if picture else torch.rand(1, 3, 16, 16)
    return AttackResult(reconstruction=reconstruction, truth=truth, label_true=[1],
                        label_pred=[1], history=history,
                        attempts=[Attempt(seed=0, status=status, steps=len(mses) - 1,
                                          best_distance=min(mses))],
                        final_mse=mse(reconstruction, truth))


def test_a_share_holds_when_every_case_agrees():
    assert v.share_outcome(3, 3) is Verdict.HOLDS and v.share_outcome(0, 3) is Verdict.DOES_NOT_HOLD
    assert v.share_outcome(2, 3) is Verdict.PARTLY and v.share_outcome(0, 0) is Verdict.NOT_MEASURED
    assert v.is_indicative(2) and not v.is_indicative(3)


def test_an_order_lower_is_judged_image_by_image():
    rows = [{"group": g, "images": i, "mse": m} for g, i, m in (
        ("big", "cat", 1.0), ("small", "cat", 1e-3), ("big", "dog", 1.0), ("small", "dog", 0.5))]
    gap = v.an_order_lower(rows, "big", "small")
    assert gap.verdict is Verdict.PARTLY and (gap.images, gap.at_least_one) == (2, 1)
    assert gap.largest == pytest.approx(3.0) and gap.smallest == pytest.approx(0.301, abs=1e-3)
    assert v.an_order_lower([], "big", "small").verdict is Verdict.NOT_MEASURED


def test_convergence_in_about_n_steps_counts_runs_that_got_there_in_the_window():
    fast = _run([1.0] * 10 + [1e-4] * 5)      # below 1e-3 at step 10
    never = _run([1.0] * 15)
    steps = v.converges_in_about([fast, never], (5, 20), 1e-3)
    assert steps.verdict is Verdict.PARTLY and (steps.reached, steps.runs, steps.within) == (1, 2, 1)
    assert steps.median == 10
    assert v.converges_in_about([never], (5, 20), 1e-3).verdict is Verdict.DOES_NOT_HOLD
    assert v.converges_in_about([], (5, 20), 1e-3).verdict is Verdict.NOT_MEASURED


def test_more_steps_needed_while_the_error_still_falls():
    falling = _run([1.0 - 0.01 * s for s in range(50)])
    flat = _run([0.5] * 50)
    assert v.needs_more_steps([falling] * 3, 1e-3, window=20).verdict is Verdict.HOLDS
    mixed = v.needs_more_steps([falling, flat], 1e-3, window=20)
    assert mixed.verdict is Verdict.PARTLY and mixed.falling == 1
    assert v.needs_more_steps([_run([1.0, 1e-4])], 1e-3, window=1).verdict is Verdict.DOES_NOT_HOLD


def test_an_optimiser_at_rest_is_not_a_recovered_image():
    # 20 evaluations a step until step 3, then one a step: L-BFGS at rest from step 3
    resting = _run([0.5] * 8, evaluations=[0, 20, 40, 60, 61, 62, 63, 64, 65][:8],
                   picture=False)
    rest = v.optimiser_rests_by([resting], 50)
    assert rest.verdict is Verdict.HOLDS and rest.resting == (3,)
    assert (rest.leaked, rest.runs) == (0, 1)


def test_a_run_that_diverged_everywhere_shows_nothing_about_the_gradient():
    diverged = _run([1.0, 50.0], status="diverged", picture=False)
    hidden = v.shows_nothing([diverged])
    assert hidden.verdict is Verdict.NOT_SHOWN and (hidden.diverged, hidden.attempts) == (1, 1)
    # an attack that works and also leaks nothing makes it hold; one that leaks refutes it
    failing = [_run([1.0, 0.9], picture=False) for _ in range(3)]
    assert v.shows_nothing([diverged], failing).verdict is Verdict.HOLDS
    leaking = v.shows_nothing([diverged], [_run([1.0, 1e-5])])
    assert leaking.verdict is Verdict.DOES_NOT_HOLD and leaking.working_leaked == 1
    assert v.shows_nothing([_run([1.0, 1e-5])]).verdict is Verdict.DOES_NOT_HOLD
    assert v.shows_nothing([]).verdict is Verdict.NOT_MEASURED


def test_a_batch_that_leaks_one_image_shows_something():
    truth = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    half = _run([1.0, 0.5], truth=truth)
    half.reconstruction = torch.stack([torch.rand(3, 16, 16), truth[1]])  # the second comes back
    assert ssim(half.reconstruction, truth) < 0.6  # the batch's mean hides it
    hidden = v.shows_nothing([half])
    assert hidden.verdict is Verdict.DOES_NOT_HOLD and hidden.leaked == 1


@pytest.mark.parametrize("sizes, verdict, falls, rises", [
    ({"A": (1, 10, 10), "B": (5, 0, 10), "C": (9, 0, 10)}, Verdict.HOLDS,
     (("A", "B"), ("A", "C")), ()),
    ({"A": (1, 5, 5), "B": (5, 5, 5), "C": (9, 5, 5)}, Verdict.DOES_NOT_HOLD, (), ()),
    ({"A": (1, 2, 5), "B": (5, 1, 5)}, Verdict.DOES_NOT_HOLD, (), ()),
    ({"A": (1, 0, 10), "B": (5, 1, 10), "C": (9, 10, 10)}, Verdict.DOES_NOT_HOLD, (),
     (("A", "C"), ("B", "C"))),
    ({"A": (1, 10, 11), "B": (5, 2, 2)}, Verdict.DOES_NOT_HOLD, (), ()),  # 10/11 vs 2/2: chance
])
def test_larger_models_leak_less_when_the_rates_intervals_separate(sizes, verdict, falls, rises):
    size = v.larger_models_leak_less(sizes)
    assert (size.verdict, size.falls, size.rises) == (verdict, falls, rises)
    assert size.order == tuple(sorted(sizes, key=lambda name: sizes[name][0]))


def test_larger_models_leak_less_needs_two_models():
    assert v.larger_models_leak_less({"A": (1, 1, 1)}).verdict is Verdict.NOT_MEASURED
    assert v.larger_models_leak_less({"A": (1, 5, 5), "B": (5, 5, 5)}).every_run_leaks


def test_architecture_as_a_defence_falls_with_the_first_large_model_that_leaks():
    assert v.architecture_as_defence({}).verdict is Verdict.NOT_MEASURED
    assert v.architecture_as_defence({"B": (0, 2), "C": (0, 1)}).verdict is Verdict.HOLDS
    mixed = v.architecture_as_defence({"B": (2, 2), "C": (0, 1)})
    assert mixed.verdict is Verdict.DOES_NOT_HOLD and mixed.leaking == ("B",)
    assert mixed.hidden == ("C",)


def test_parameter_counts_and_the_activation():
    lenet = v.parameter_count(85_036, 60_000)
    assert lenet.verdict is Verdict.DOES_NOT_HOLD and lenet.ratio == pytest.approx(1.417, abs=1e-3)
    assert v.parameter_count(7_978_856, 8_100_000).verdict is Verdict.HOLDS
    assert v.activation_needed((5, 5), (0, 5)).verdict is Verdict.HOLDS
    assert v.activation_needed((5, 5), (3, 5)).verdict is Verdict.PARTLY
    assert v.activation_needed((3, 5), (3, 5)).verdict is Verdict.DOES_NOT_HOLD
    assert v.activation_needed((0, 5), (0, 5)).verdict is Verdict.NOT_SHOWN
    assert v.activation_needed((1, 1), (0, 0)).verdict is Verdict.NOT_MEASURED


def test_labels_are_judged_against_reading_them_off_the_gradient():
    assert v.labels_inefficient((5, 5), (5, 5)).verdict is Verdict.DOES_NOT_HOLD
    assert v.labels_inefficient((3, 5), (5, 5)).verdict is Verdict.HOLDS
    assert v.labels_inefficient((3, 5), (4, 5)).verdict is Verdict.PARTLY
    assert v.labels_inefficient((0, 0), (4, 5)).verdict is Verdict.NOT_MEASURED


def test_how_a_run_ended():
    from dlg_helpers.runs.record import load_result

    lenet = load_result(RESULTS / "lenet" / "cat-seed0")
    ended = v.how_it_ended(lenet, 300)
    assert ended.ending in (v.Ending.STILL_FALLING, v.Ending.LEVELLED_OFF, v.Ending.STOPPED_EARLY)
    diverged = load_result(RESULTS / "inception_v3" / "cat+astronaut-seed0")
    ending = v.how_it_ended(diverged, 300)
    assert ending.ending is v.Ending.DIVERGED and ending.attempts == len(diverged.attempts)
    assert v.how_it_ended(_run([1.0 - 0.01 * s for s in range(50)]), 49, window=20).ending \
        is v.Ending.STILL_FALLING
    assert v.how_it_ended(_run([0.5] * 50), 49, window=20).ending is v.Ending.LEVELLED_OFF
    assert v.how_it_ended(_run([0.5] * 10), 49).ending is v.Ending.STOPPED_EARLY


def test_the_effect_on_an_attack_compares_how_often_it_leaked():
    assert v.effect_on_attack((5, 5), (1, 5)) is v.Effect.HARDER
    assert v.effect_on_attack((1, 5), (2, 5)) is v.Effect.EASIER
    assert v.effect_on_attack((5, 5), (5, 5)) is v.Effect.NO_CHANGE
    assert v.effect_on_attack((5, 5), (0, 0)) is v.Effect.NOT_MEASURED


def test_the_activation_verdict_reads_a_summarys_sigmoid_and_relu_groups():
    summary = {"LeNet, Sigmoid": {"leaked": 5, "runs": 5},
               "LeNet, ReLU": {"leaked": 0, "runs": 5}}
    outcome = v.activation_in(summary, "LeNet")
    assert outcome.verdict is Verdict.HOLDS and outcome.relu == (0, 5)
    assert v.activation_in({}, "LeNet").verdict is Verdict.NOT_MEASURED


def test_the_small_verdicts_the_chapters_quote():
    assert v.within_an_order(0.5, -0.9) is Verdict.HOLDS
    assert v.within_an_order(0.5, 1.2) is Verdict.DOES_NOT_HOLD
    assert v.converges_by(99, (50, 150)) is Verdict.HOLDS
    assert v.converges_by(200, (50, 150)) is Verdict.DOES_NOT_HOLD
    assert v.converges_by(None, (50, 150)) is Verdict.NOT_MEASURED
    lenet = {1: (1, 1), 2: (0, 2), 8: (0, 8)}
    resnet = {1: (1, 1), 8: (7, 8)}
    assert v.batch_makes_worse({"LeNet": lenet}).verdict is Verdict.HOLDS
    assert v.batch_makes_worse({"ResNet-18": resnet}).verdict is Verdict.DOES_NOT_HOLD
    mixed = v.batch_makes_worse({"LeNet": lenet, "ResNet-18": resnet})
    assert mixed.verdict is Verdict.PARTLY and mixed.fell == {"LeNet": True, "ResNet-18": False}
    assert v.batch_makes_worse({"LeNet": {1: (1, 1), 8: (0, 0)}}).verdict is Verdict.NOT_MEASURED


def test_a_factor_prevents_leakage_only_when_the_rate_falls_measurably_to_a_tenth_or_less():
    def row(identified, images):
        low, high = wilson(identified, images)
        return {"identified": identified, "images": images, "rate": identified / images,
                "low": low, "high": high}

    base = row(98, 100)
    prevented = v.factor_prevents(base, row(2, 100))
    assert prevented.verdict is Verdict.HOLDS and prevented.certain
    few = {**row(0, 56), "high": 0.22}  # seven batches of eight: a wide interval
    wide = v.factor_prevents(base, few)
    assert wide.verdict is Verdict.HOLDS and not wide.certain
    # a third of the images still leak: lowered, not prevented
    assert v.factor_prevents(base, row(30, 100)).verdict is Verdict.PARTLY
    same = v.factor_prevents(base, row(96, 100))
    assert same.verdict is Verdict.DOES_NOT_HOLD and not same.lowered
