"""The verdicts on the report's claims."""

from pathlib import Path

import pytest
import torch

from dlg_helpers import verdicts as v
from dlg_helpers.analysis.metrics import ssim
from dlg_helpers.attack.trace import AttackResult, Attempt, StepRecord

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
                                          best_distance=min(mses))])


def test_share_verdicts_name_the_share():
    assert v.share_verdict(3, 3) == "holds" and v.share_verdict(0, 3) == "does not hold"
    assert v.share_verdict(2, 3) == "holds on 2 of 3 images only"
    assert v.share_verdict(0, 0) == v.NOT_MEASURED


def test_an_order_lower_is_judged_image_by_image():
    rows = [{"group": g, "images": i, "mse": m} for g, i, m in (
        ("big", "cat", 1.0), ("small", "cat", 1e-3), ("big", "dog", 1.0), ("small", "dog", 0.5))]
    claim = v.an_order_lower("one order", rows, "big", "small", {"big": "B", "small": "S"}, 300)
    assert claim.verdict.startswith("holds on 1 of 2 images only (indicative")
    assert "3.0" in claim.measured
    assert v.an_order_lower("x", [], "big", "small", {"big": "B", "small": "S"}, 300
                            ).verdict == v.NOT_MEASURED


def test_convergence_in_about_n_steps_counts_runs_that_got_there_in_the_window():
    fast = _run([1.0] * 10 + [1e-4] * 5)      # below 1e-3 at step 10
    never = _run([1.0] * 15)
    claim = v.converges_in_about("about 10", [fast, never], "LeNet", (5, 20), 1e-3)
    assert claim.verdict.startswith("holds on 1 of 2 images only (indicative")
    assert "median step 10" in claim.measured
    assert v.converges_in_about("x", [never], "LeNet", (5, 20), 1e-3).verdict == "does not hold"


def test_more_steps_needed_while_the_error_still_falls():
    falling = _run([1.0 - 0.01 * s for s in range(50)])
    flat = _run([0.5] * 50)
    assert v.needs_more_steps("q", [falling] * 3, "R", 20, 1e-3).verdict == "holds"
    assert "stopped improving" in v.needs_more_steps("q", [flat], "R", 20, 1e-3).verdict
    assert v.needs_more_steps("q", [_run([1.0, 1e-4])], "R", 1, 1e-3).verdict.startswith(
        "does not hold")


def test_an_optimiser_at_rest_is_not_a_recovered_image():
    # 20 evaluations a step until step 3, then one a step: L-BFGS at rest from step 3
    resting = _run([0.5] * 8, evaluations=[0, 20, 40, 60, 61, 62, 63, 64, 65][:8],
                   picture=False)
    claim = v.optimiser_rests_by("about 50", [resting], "D", 50)
    assert claim.verdict.startswith("holds (indicative: 1 run")
    assert claim.verdict.endswith("for the optimiser; the image came with it in 0 of 1")
    assert "rest at steps 3" in claim.measured and "leaked in 0 of 1" in claim.measured


def test_a_run_that_diverged_everywhere_shows_nothing_about_the_gradient():
    diverged = _run([1.0, 50.0], status="diverged", picture=False)
    claim = v.shows_nothing("cannot", [diverged], "I")
    assert claim.verdict == v.NOT_SHOWN
    assert claim.measured.startswith("1 of 1 random starts diverged; the image leaked in 0 of 1")
    # an attack that works and also leaks nothing makes it hold; one that leaks refutes it
    failing = [_run([1.0, 0.9], picture=False) for _ in range(3)]
    assert v.shows_nothing("cannot", [diverged], "I", failing, "IG").verdict == "holds"
    leaking = [_run([1.0, 1e-5])]
    assert v.shows_nothing("cannot", [diverged], "I", leaking, "IG").verdict.startswith(
        "does not hold (indicative")
    assert v.shows_nothing("cannot", [_run([1.0, 1e-5])], "I").verdict.startswith(
        "does not hold")


def test_a_batch_that_leaks_one_image_shows_something():
    truth = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    half = _run([1.0, 0.5], truth=truth)
    half.reconstruction = torch.stack([torch.rand(3, 16, 16), truth[1]])  # the second comes back
    assert ssim(half.reconstruction, truth) < 0.6  # the batch's mean hides it
    claim = v.shows_nothing("cannot", [half], "I")
    assert claim.verdict.startswith("does not hold") and "leaked in 1 of 1" in claim.measured


@pytest.mark.parametrize("sizes, verdict", [
    ({"A": (1, 10, 10), "B": (5, 0, 10), "C": (9, 0, 10)},
     "holds between A and the larger B; A and the larger C"),
    ({"A": (1, 5, 5), "B": (5, 5, 5), "C": (9, 5, 5)},
     "does not hold: every model leaks in every run"),
    ({"A": (1, 2, 5), "B": (5, 1, 5)},
     "does not hold: no larger model leaks measurably less often (the rates' 95 % intervals "
     "overlap)"),
    ({"A": (1, 0, 10), "B": (5, 1, 10), "C": (9, 10, 10)},
     "does not hold: C leaks more often than the smaller A; C leaks more often than the smaller "
     "B"),
    ({"A": (1, 10, 11), "B": (5, 2, 2)},  # 10 of 11 against 2 of 2 is no difference
     "does not hold: no larger model leaks measurably less often (the rates' 95 % intervals "
     "overlap) (indicative: 2 runs, too few to tell the model from the luck of one random "
     "start)"),
])
def test_larger_models_leak_less_when_the_rates_intervals_separate(sizes, verdict):
    assert v.larger_models_leak_less("larger", sizes).verdict == verdict


def test_larger_models_leak_less_needs_two_models_and_can_be_labelled_by_attack():
    assert v.larger_models_leak_less("larger", {"A": (1, 1, 1)}).verdict == v.NOT_MEASURED
    claim = v.under("inverting gradients", v.larger_models_leak_less(
        "larger", {"A": (1, 5, 5), "B": (5, 0, 5)}))
    assert claim.measured.startswith("under inverting gradients: runs that leaked, by measured "
                                     "size: A (1e-06 M) 5 of 5, B (5e-06 M) 0 of 5")
    assert claim.verdict == "holds between A and the larger B" and claim.claim == "larger"


def test_architecture_as_a_defence_falls_with_the_first_large_model_that_leaks():
    assert v.architecture_as_defence({}) == "is not measured"
    assert v.architecture_as_defence({"B": (0, 2), "C": (0, 1)}) == (
        "survives on B and C (no run leaked)")
    assert v.architecture_as_defence({"B": (2, 2), "C": (0, 1)}) == (
        "does not survive: B leaked in 2 of 2 runs, while C leaked in none")
    assert v.architecture_as_defence({"B": (1, 3)}) == "does not survive: B leaked in 1 of 3 runs"


def test_parameter_counts_and_the_activation():
    lenet = v.parameter_count("60000 of LeNet", "LeNet", 85_036, 60_000)
    assert lenet.verdict == "does not hold" and "1.42 × the report's 60,000" in lenet.measured
    assert v.parameter_count("8.1 million", "DenseNet", 7_978_856, 8_100_000).verdict == "holds"
    needed = v.activation_needed("sigmoid", "LeNet", (5, 5), (0, 5))
    assert needed.verdict == "holds" and needed.measured.startswith(
        "LeNet, the same images: leaked in 5 of 5 runs (100 %, 95 % CI 57–100 %) with Sigmoid")
    assert v.activation_needed("s", "L", (5, 5), (3, 5)).verdict.startswith("holds only")
    assert v.activation_needed("s", "L", (3, 5), (3, 5)).verdict == "does not hold"
    assert v.activation_needed("s", "L", (0, 5), (0, 5)).verdict.startswith("cannot be judged")
    assert "inverting gradients leaks nothing" in v.activation_needed(
        "s", "L", (0, 1), (0, 1), attack="inverting gradients").verdict
    assert v.activation_needed("s", "L", (1, 1), (0, 1)).verdict.startswith("holds (indicative")
    assert v.activation_needed("s", "L", (1, 1), (0, 0)).verdict == v.NOT_MEASURED


def test_the_table_quotes_each_claim_beside_measurement_and_verdict():
    table = v.verdict_table([v.Claim("LeNet is one order lower", "5.1 orders", "holds")]).data
    assert "| “LeNet is one order lower” | 5.1 orders | **holds** |" in table


def test_how_a_run_ended_in_one_sentence():
    from dlg_helpers.runs.record import load_result

    lenet = load_result(RESULTS / "lenet" / "cat-seed0")
    assert v.how_it_ended(lenet, 300).startswith(
        "the run took all 300 steps, and its aligned MSE was")
    diverged = load_result(RESULTS / "inception_v3" / "cat+astronaut-seed0")
    assert v.how_it_ended(diverged, 300).startswith(
        f"L-BFGS diverged from every one of its {len(diverged.attempts)} random starts")


def test_the_effect_on_an_attack_compares_how_often_it_leaked():
    assert v.effect_on_attack("training", (5, 5), (1, 5)) == (
        "training made the attack harder: leaked in 5 of 5 runs without it, 1 of 5 with it")
    assert v.effect_on_attack("training", (1, 5), (2, 5)).startswith("training made the attack "
                                                                     "easier")
    assert v.effect_on_attack("training", (5, 5), (5, 5)).startswith("training changed nothing")
    assert v.effect_on_attack("training", (5, 5), (0, 0)) == v.NOT_MEASURED


def test_the_activation_verdict_reads_a_summarys_sigmoid_and_relu_groups():
    summary = {"LeNet, Sigmoid": {"leaked": 5, "runs": 5},
               "LeNet, ReLU": {"leaked": 0, "runs": 5}}
    claim = v.activation_in(summary, "LeNet")
    assert claim.verdict == "holds" and "with Sigmoid, 0 of 5 runs" in claim.measured
    assert claim.sentence("Sigmoid is needed").endswith("(verdict on “Sigmoid is needed”: holds)")
    assert v.activation_in({}, "LeNet").verdict == v.NOT_MEASURED


def test_the_small_verdicts_the_chapters_quote():
    assert v.within_an_order(0.5, -0.9) == "holds" and v.within_an_order(0.5, 1.2) == (
        "does not hold")
    assert v.converges_by(99, (50, 150), 100).startswith("the claim holds: convergence takes on "
                                                         "the order of 100 steps")
    assert v.converges_by(None, (50, 150), 100) == "the claim does not hold in our measurement"
    assert v.restarts_rescue(0, 5) == "0 of 5 runs: the failure is not a matter of luck"
    assert v.restarts_rescue(2, 5) == "2 of 5 runs: restarts rescue some of them"
    assert v.restarts_rescue(float("nan"), float("nan")) == "nan of nan runs"
    lenet = {1: (1, 1), 2: (0, 2), 8: (0, 8)}
    resnet = {1: (1, 1), 8: (7, 8)}
    assert v.batch_makes_worse({"LeNet": lenet}).startswith(
        "holds on every model measured (LeNet: 1 of 1 alone, 0 of 8 in a batch of 8)")
    assert v.batch_makes_worse({"ResNet-18": resnet}).startswith("does not hold")
    mixed = v.batch_makes_worse({"LeNet": lenet, "ResNet-18": resnet})
    assert mixed.startswith("holds on LeNet only") and "not on ResNet-18 (ResNet-18: 1 of 1 " in mixed
    assert v.batch_makes_worse({"LeNet": {1: (1, 1), 8: (0, 0)}}) == "is not measured"
    assert v.share_verdict(3, 3, every="holds, and sooner than stated") == (
        "holds, and sooner than stated")
    assert v.share_verdict(1, 2) == ("holds on 1 of 2 images only (indicative: 2 runs, too few "
                                     "to tell the model from the luck of one random start)")
    assert v.indicative("holds", 3) == "holds"


def test_a_factor_prevents_leakage_only_when_the_rate_falls_measurably_to_a_tenth_or_less():
    def row(identified, images):
        low, high = v.wilson(identified, images)
        return {"identified": identified, "images": images, "rate": identified / images,
                "low": low, "high": high}

    base = row(98, 100)
    assert v.factor_prevents("q", "a larger batch", base, row(2, 100)).verdict == v.HOLDS
    few = {**row(0, 56), "attacks": 7, "high": 0.22}  # seven batches of eight: a wide interval
    assert v.factor_prevents("q", "a larger batch", base, few).verdict.startswith(
        "holds, as far as 7 attacks can tell (the interval reaches")
    assert v.factor_prevents("q", "a larger batch", base, row(30, 100)).verdict.startswith(
        "does not hold as stated")  # a third of the images still leak: lowered, not prevented
    lowered = v.factor_prevents("q", "a larger batch", base, row(70, 100)).verdict
    assert lowered.startswith("does not hold as stated") and "lowers the rate" in lowered
    same = v.factor_prevents("q", "a larger batch", base, row(96, 100))
    assert same.verdict.startswith("does not hold") and "overlap" in same.verdict
    assert "96 of 100 images" in same.measured
