"""The numbers the analysis chapters' prose quotes."""

import math

import pytest

from dlg_helpers.analysis.findings import (
    defences,
    densenet_claims,
    lenet_failures,
    resnet_steps,
)
from dlg_helpers.analysis.protection import median_outcomes, protection_ranking


def test_the_findings_the_prose_quotes(outcome_row):
    likeness = {"none": 0.95, "gaussian:0.01": 0.25, "batch:4": 0.2}
    rows = [outcome_row("DLG", d, "a", s) for d, s in likeness.items()]
    rows += [outcome_row("IG", d, "a", s + 0.1) for d, s in likeness.items()]
    medians = median_outcomes(rows)
    costs = [{"defence": d, "accuracy": a, "epsilon": None}
             for d, a in (("none", 0.9), ("gaussian:0.01", 0.85), ("batch:4", 0.95))]
    ranking = protection_ranking(medians, costs)
    found = defences(medians, ranking, costs, {"accuracy": 0.97}, list(likeness),
                     {"DLG": "dlg", "IG": "ig"})
    assert found["dlg_clean_likeness"] == pytest.approx(0.95) and found["dlg_clean_leaked"] == (
        "1 of 1")
    assert math.isnan(found["dlg_prune_01"])
    assert found["ig_better_count"] == 2 and found["defended_count"] == 2
    assert found["best_family"] == "batch" and found["best_change"] == "0.05 above"
    assert found["gradient_best_setting"] == "gaussian:0.01"
    assert found["batch_4_cost"] == pytest.approx(0.02) and math.isnan(found["dp_epsilon"])


def test_the_resnet_chapters_claims(make_result):
    # make_result's aligned MSE is a tenth of its MSE; the ResNet's falls 10% a step
    resnets = {"cat": make_result([1.0, 0.9, 0.81]), "dog": make_result([1.0, 1.0, 1.0])}
    lenets = {"cat": make_result([1.0, 1e-4, 1e-5]), "dog": make_result([1.0, 0.5, 0.5])}
    found = resnet_steps(resnets, lenets, 2)
    assert found["window"] == 2 and found["falling_count"] == 1
    assert found["verdict_steps"].startswith("holds on 1 of 2 images only (indicative")
    assert found["aligned_drop"] == pytest.approx(0.0) and found["halving_steps"] > 0
    assert found["gap_by_image"].startswith(
        "on the cat, 4.9 orders of magnitude above (4.9 above after alignment)")
    # the toy's pictures are blank, so its final MSE reads 0
    assert found["lenet_failures"] == "dog (its MSE 0)"
    assert found["verdict_gap"].startswith("holds on 1 of 2 images only (indicative")
    assert lenet_failures({"cat": lenets["cat"]}, 2) == "none"


def test_the_densenet_chapters_claims(make_result):
    runs = {"cat": make_result([1.0, 0.5, 0.5, 0.5], evaluations=[20, 40, 41, 42])}
    found = densenet_claims(runs, runs, runs, 3, about=50)
    assert found["densenet_resting"] == 1 and found["verdict_50"].startswith(
        "holds, and sooner than stated (indicative: 1 run")
    assert found["verdict_order"] == "holds" and found["gap_to_resnet"] == 0
    assert found["verdict_lenet"].startswith("does not hold") and found["noise_floor"] >= 0
    assert math.isclose(found["densenet_seconds_per_evaluation"], 3 / 42)


def test_gaps_read_as_a_sentence_says_them():
    from dlg_helpers.analysis.findings import gap_text

    assert gap_text(5.12) == "5.1 orders of magnitude above"
    assert gap_text(-1.8) == "1.8 orders of magnitude below"
    assert gap_text(-0.1, short=True) == "0.1 below"
    assert gap_text(1.02) == "1.0 order of magnitude above" and gap_text(0.01) == "level"
