"""The defence study's pieces: outcomes from stored runs, medians, costs and the ranking."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlg_helpers.analysis.protection import (
    MEANINGFUL_EPSILON,
    attack_outcomes,
    better_count,
    compare_attacks,
    describe_defence,
    gradient_changes,
    median_outcomes,
    private_batch,
    protection_ranking,
    ranking_summary,
    split_batch,
    stopped_settings,
)
from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.book.defence_tables import (
    gradient_change_table,

)


RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_defences_are_described_by_family_and_strength():
    assert describe_defence("none") == ("none", "")
    assert describe_defence("gaussian:1e-3") == ("gaussian", "0.001")
    assert describe_defence("precision:int8") == ("precision", "int8")
    assert describe_defence("prune:0.1+gaussian:1e-4") == ("composed", "prune:0.1+gaussian:0.0001")
    assert describe_defence("batch:4") == ("batch", "4")
    assert describe_defence("batch:4+prune:0.1") == ("composed", "batch:4+prune:0.1")


def test_a_larger_batch_is_split_from_the_gradient_defence():
    assert split_batch("none") == (1, None)
    assert split_batch("prune:0.1") == (1, "prune:0.1")
    assert split_batch("batch:8") == (8, None)
    assert split_batch("batch:4+gaussian:1e-3") == (4, "gaussian:1e-3")
    assert private_batch("coffee", 3) == ("coffee", "cat", "astronaut")
    assert private_batch("face-0", 1) == ("face-0",)


@pytest.mark.parametrize("text, message", [
    ("batch:0", "write batch:B with B a whole number of at least 1"),
    ("batch:2.5", "write batch:B"),
    ("batch:", "write batch:B"),
    ("batch:2+batch:4", "gives the batch size twice"),
])
def test_bad_batch_sizes_are_refused_with_the_fix(text, message):
    with pytest.raises(ValueError, match=message):
        split_batch(text)


def test_a_batch_larger_than_the_pool_names_the_fix():
    with pytest.raises(ValueError, match="needs 3 images besides 'cat'; the pool has 1"):
        private_batch("cat", 4, ["cat", "coffee"])


@pytest.mark.filterwarnings("ignore::dlg_helpers.attack.engine.AttackDivergedWarning")  # 2 steps
def test_under_a_larger_batch_the_attack_faces_the_whole_private_batch(tmp_path):
    attacks = {"DLG": AttackConfig(steps=2, progress=False)}
    rows = attack_outcomes("lenet", ["coffee"], ["batch:3"], attacks, tmp_path, size=16)
    assert [(r["family"], r["strength"], r["image"]) for r in rows] == [("batch", "3", "coffee")]
    stored = [p.parent.name for p in tmp_path.glob("lenet/*/record.json")]
    assert len(stored) == 1 and stored[0].startswith("coffee+cat+astronaut-seed0")
    record = (tmp_path / "lenet" / stored[0] / "record.json").read_text()
    assert "--image coffee cat astronaut" in record  # its command attacks the whole batch


@pytest.mark.filterwarnings("ignore::dlg_helpers.attack.engine.AttackDivergedWarning")  # 2 steps
def test_outcomes_are_computed_once_then_loaded(tmp_path, logged):
    attacks = {"DLG": AttackConfig(steps=2, progress=False),
               "IG": AttackConfig.inverting_gradients(steps=4, trials=1, progress=False)}
    arguments = ("lenet", ["cat", "coffee"], ["none", "prune:0.5"], attacks, tmp_path)
    first = attack_outcomes(*arguments)
    assert "0 stored runs loaded, 8 computed, 0 missing" in logged()
    again = attack_outcomes(*arguments)
    out = logged()
    assert "8 stored runs loaded, 0 computed" in out and "loaded the stored run" not in out
    assert again == first and len(first) == 8
    assert {(r["attack"], r["family"], r["image"]) for r in first} == {
        (a, f, i) for a in ("DLG", "IG") for f in ("none", "prune") for i in ("cat", "coffee")}
    assert all(0 <= r["mse"] and r["ssim"] <= 1 and isinstance(r["label_correct"], bool)
               for r in first)


@pytest.mark.filterwarnings("ignore::dlg_helpers.attack.engine.AttackDivergedWarning")  # 2 steps
def test_missing_runs_of_a_slow_model_are_listed_with_their_commands_not_computed(tmp_path, logged):
    attacks = {"DLG": AttackConfig(steps=2, progress=False)}
    arguments = ("lenet", ["cat"], ["none", "prune:0.5"], attacks, tmp_path)
    attack_outcomes(*arguments[:2], ["none"], attacks, tmp_path, size=16)
    logged()
    rows = attack_outcomes(*arguments, size=16, compute_missing=False)
    out = logged()
    assert [r["defence"] for r in rows] == ["none"]  # the stored run at 16x16 only
    assert "1 stored runs loaded, 0 computed, 1 missing" in out
    assert "--defence prune:0.5" in out and "--size 16" in out
    assert not list(tmp_path.glob("lenet/*prune*"))


def test_medians_over_images_per_attack_and_defence(outcome_row):
    rows = [outcome_row("DLG", "none", "a", 0.9), outcome_row("DLG", "none", "b", 0.75),
            outcome_row("DLG", "none", "c", 0.1, label=False), outcome_row("IG", "none", "a", 0.5)]
    medians = median_outcomes(rows)
    assert [(m["attack"], m["images"], m["leaked"]) for m in medians] == [("DLG", 3, 2),
                                                                          ("IG", 1, 0)]
    assert medians[0]["likeness"] == pytest.approx(0.75)
    assert medians[0]["mse"] == pytest.approx(0.25)
    assert medians[0]["labels_right"] == pytest.approx(2 / 3)
    assert 0 < medians[0]["leaked_low"] < 2 / 3 < medians[0]["leaked_high"] < 1


def test_the_settings_that_stop_every_attack(outcome_row):
    def medians(likeness):
        return median_outcomes([outcome_row(attack, d, "a", s)
                                for attack, by_defence in likeness.items()
                                for d, s in by_defence.items()])
    leaking = {"DLG": {"none": 0.9, "prune:0.1": 0.2, "gaussian:0.01": 0.1},
               "IG": {"none": 0.9, "prune:0.1": 0.8, "gaussian:0.01": 0.2}}
    stopped = stopped_settings(medians(leaking))  # prune:0.1 lets IG through
    assert stopped.settings == ("gaussian:0.01",) and stopped.defended == 2
    assert not stopped.trivial
    assert stopped_settings(medians({"IG": {"none": 0.9, "prune:0.1": 0.8}})).settings == ()
    trivial = stopped_settings(medians({"IG": {"none": 0.2, "prune:0.1": 0.1}}))
    assert trivial.trivial and trivial.settings == ("prune:0.1",)
    assert stopped_settings(medians({"IG": {"none": 0.9}})).defended == 0
    # IG recovers more than DLG under both defended settings
    assert better_count(medians(leaking), "DLG", "IG", ["prune:0.1", "gaussian:0.01"]) == 2
    assert better_count(medians(leaking), "IG", "DLG", ["prune:0.1", "batch:2"]) == 0


def test_the_ranking_summary_names_the_cheapest_stopping_families(outcome_row):
    likeness = {"none": 0.95, "gaussian:0.01": 0.25, "batch:4": 0.2, "prune:0.1": 0.9}
    rows = [outcome_row(a, d, "a", s) for d, s in likeness.items() for a in ("DLG", "IG")]
    costs = [{"defence": d, "accuracy": a, "epsilon": None}
             for d, a in (("none", 0.9), ("gaussian:0.01", 0.85), ("batch:4", 0.95),
                          ("prune:0.1", 0.9))]
    summary = ranking_summary(protection_ranking(median_outcomes(rows), costs))
    assert (summary.families, summary.stopping) == (3, 2)
    assert (summary.best_family, summary.best_setting) == ("batch", "batch:4")
    assert summary.best_drop == pytest.approx(-0.05)  # a larger batch trained better here
    assert (summary.gradient_family, summary.gradient_setting) == ("gaussian", "gaussian:0.01")
    assert summary.gradient_accuracy == pytest.approx(0.85)
    nothing = ranking_summary(protection_ranking(median_outcomes(rows[-2:]), costs))
    assert nothing.stopping == 0 and nothing.best_family is None and nothing.gradient_setting is None


def test_the_ranking_takes_each_familys_weakest_stopping_setting_and_orders_by_cost(outcome_row):
    likeness = {"none": 0.95, "gaussian:0.001": 0.8, "gaussian:0.01": 0.25, "gaussian:0.1": 0.05,
                "prune:0.5": 0.9, "prune:0.1": 0.75, "precision:int8": 0.2}
    rows = [outcome_row(attack, d, "a", s) for d, s in likeness.items() for attack in ("DLG", "IG")]
    rows.append(outcome_row("IG", "precision:int8", "b", 0.8, label=False))  # IG beats int8 here
    medians = median_outcomes(rows)
    accuracy = {"none": 0.98, "gaussian:0.001": 0.98, "gaussian:0.01": 0.9, "gaussian:0.1": 0.6,
                "prune:0.5": 0.97, "prune:0.1": 0.95, "precision:int8": 0.98}
    costs = [{"defence": d, "accuracy": a, "epsilon": None} for d, a in accuracy.items()]
    ranking = protection_ranking(medians, costs)
    assert [(r["family"], r["setting"]) for r in ranking] == [
        ("gaussian", "gaussian:0.01"), ("precision", None), ("prune", None)]
    assert ranking[0]["accuracy_drop"] == pytest.approx(0.08)
    assert ranking[0]["worst_leaked"] == 0 and ranking[0]["worst_likeness"] == pytest.approx(0.25)
    # precision lets half its images leak, prune all of them: precision is closer to stopping
    assert ranking[1]["worst_leaked"] == pytest.approx(0.5)
    assert ranking[2]["strongest_tried"] == "prune:0.1" and ranking[2]["worst_leaked"] == 1
    with pytest.raises(ValueError, match="undefended run"):
        protection_ranking(medians, costs[1:])


def test_dp_sgd_is_ranked_only_where_its_epsilon_promises_something(outcome_row):
    likeness = {"none": 0.95, "dpsgd:0.01": 0.1, "dpsgd:1.0": 0.05}
    medians = median_outcomes([outcome_row("DLG", d, "a", s) for d, s in likeness.items()])
    costs = [{"defence": "none", "accuracy": 0.9, "epsilon": None},
             {"defence": "dpsgd:0.01", "accuracy": 0.6, "epsilon": 2.7e6},
             {"defence": "dpsgd:1.0", "accuracy": 0.4, "epsilon": 1.2}]
    (row,) = protection_ranking(medians, costs)
    assert row["setting"] == "dpsgd:1.0" and row["epsilon"] <= MEANINGFUL_EPSILON
    assert protection_ranking(medians, costs[:2]) == []  # no meaningful ε: not ranked at all


def test_gradient_changes_measure_each_defence_on_one_gradient():
    rows = gradient_changes("lenet", "cat", ["none", "gaussian:1e-2", "prune:0.1",
                                             "precision:float16"])
    none, noise, pruned, half = rows
    assert none["relative_error"] == 0 and none["cosine"] == pytest.approx(1, abs=1e-5)
    assert none["zeros"] < 0.01
    assert noise["relative_error"] > 0.01 and noise["cosine"] < 1
    assert pruned["zeros"] == pytest.approx(0.9, abs=0.01) and pruned["cosine"] > 0.5
    assert 0 < half["relative_error"] < 1e-3
    assert gradient_change_table(rows).data.count("\n") == 5
    batch, = gradient_changes("lenet", "cat", ["batch:4"])
    # the mean over four images points elsewhere than the cat's own gradient, with no zeros
    assert batch["relative_error"] > 0.1 and batch["cosine"] < 0.99 and batch["zeros"] < 0.01


def test_defences_are_kept_apart_by_kind():
    from dlg_helpers.analysis.protection import CHOICE, GUARANTEE, HEURISTIC, kind_of

    assert kind_of("dpsgd") == GUARANTEE and kind_of("batch") == CHOICE
    assert {kind_of(f) for f in ("gaussian", "laplacian", "prune", "precision")} == {HEURISTIC}


def test_two_attacks_compared_undefended_and_pooled_over_the_defences(outcome_row):
    rows = [outcome_row(a, d, image, s) for a, scores in (
                ("equal", {"none": 0.9, "gaussian:0.1": 0.1, "prune:0.1": 0.2}),
                ("full", {"none": 0.95, "gaussian:0.1": 0.8, "prune:0.1": 0.1}))
            for d, s in scores.items() for image in ("x", "y")]
    compared = compare_attacks(median_outcomes(rows), "equal", "full",
                               ["gaussian:0.1", "prune:0.1", "batch:8"])  # batch:8 not tried
    assert [row["settings"] for row in compared] == ["none", "2 defended, pooled"]
    assert compared[0]["first"].startswith("2 of 2 attacks (100 %")
    assert compared[1]["first"].startswith("0 of 4 attacks (0 %")
    assert compared[1]["second"].startswith("2 of 4 attacks (50 %")
    assert compared[1]["second_better"] == "1 of 2 settings"
