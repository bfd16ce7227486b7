"""Success rates over a sweep's table."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from dlg_helpers.analysis.atlas import (image_bootstrap, image_features, rates, resistance,
                                         seed_rates)
from dlg_helpers.measures.intervals import wilson


def _frame() -> pd.DataFrame:
    rows = []
    for seed in range(4):
        for name, source, leaks in (("cat", "photo", True), ("face-1", "face", seed < 2),
                                    ("digit-3", "digit", False)):
            rows.append({"images": name, "sources": source, "seed": seed, "leaks": leaks,
                         "label_correct": source != "digit", "likeness": 0.9 if leaks else 0.2})
    return pd.DataFrame(rows)


def test_rates_count_leaks_and_labels_with_wilson_intervals():
    (overall,) = rates(_frame())
    assert (overall["n"], overall["leaked"], overall["labels"]) == (12, 6, 8)
    assert (overall["low"], overall["high"]) == pytest.approx(wilson(6, 12))
    assert overall["label_rate"] == pytest.approx(8 / 12)
    by_source = {row["sources"]: row for row in rates(_frame(), ["sources"])}
    assert by_source["photo"]["rate"] == 1 and by_source["digit"]["rate"] == 0
    assert by_source["face"]["leaked"] == 2 and by_source["face"]["likeness_low"] == 0.2


def test_the_image_bootstrap_is_wider_than_wilson_when_images_decide():
    low, high = image_bootstrap(_frame(), resamples=500)
    wilson_low, wilson_high = wilson(6, 12)
    assert low <= 0.5 <= high
    assert high - low > wilson_high - wilson_low  # three images, not twelve independent draws


def test_resistance_puts_the_image_that_never_leaks_first():
    table = resistance(_frame())
    assert list(table["images"]) == ["digit-3", "face-1", "cat"]
    assert list(table["share"]) == [0.0, 0.5, 1.0]


def test_image_features_measure_the_private_images():
    features = {f["images"]: f for f in image_features(["cat", "digit-3", "cat+face-1"])}
    assert features["digit-3"]["colour"] == pytest.approx(0.0, abs=1e-6)  # greyscale
    assert features["cat"]["colour"] > 0.01
    assert all(f["contrast"] > 0 and f["edges"] > 0 for f in features.values())


def test_the_resistance_profile_sorts_images_by_how_they_fare_over_their_seeds():
    from dlg_helpers.analysis.atlas import resistance_profile

    profile = {row["group"]: row for row in resistance_profile(_frame())}
    assert profile["resists every time"]["images"] == 1
    assert profile["resists every time"]["share_digit"] == 1
    assert profile["leaks every time"]["share_photo"] == 1
    assert profile["depends on the weights"]["share_face"] == 1
    assert profile["leaks every time"]["colour"] > profile["resists every time"]["colour"]


def test_the_chapter_tables_print_rates_with_their_intervals_and_n():
    from dlg_helpers.book.atlas_tables import base_table, label_table, source_table

    frame = _frame()
    base = base_table({"DLG": frame}).data
    assert "12 (3 images)" in base and "50.0 % (" in base
    assert "digits (n = 4)" in source_table({"DLG": frame}).data
    labels = label_table({"DLG": frame}).data
    assert "89.9 % (MNIST)" in labels and "0.0 % (0.0–49.0)" in labels


def _batches(batch: int, identified: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"batch": batch, "identified": identified,
                         "labels_recovered": batch, "leaks": [i > 0 for i in identified],
                         "likeness": [0.9 if i else 0.2 for i in identified]})


def test_an_image_rate_counts_images_with_wilson_for_single_images():
    from dlg_helpers.analysis.atlas import image_rate

    rate = image_rate(_batches(1, [1] * 18 + [0] * 2))
    assert (rate["images"], rate["identified"], rate["attacks"]) == (20, 18, 20)
    assert (rate["low"], rate["high"]) == pytest.approx(wilson(18, 20))
    assert rate["label_rate"] == 1


def test_an_image_rate_over_batches_bootstraps_attacks_and_is_wider_than_wilson_over_images():
    from dlg_helpers.analysis.atlas import image_rate

    # ten batches of four: each gives up all its images or none, so 40 images are 10 draws
    rate = image_rate(_batches(4, [4] * 5 + [0] * 5), resamples=1000)
    assert (rate["images"], rate["identified"], rate["rate"]) == (40, 20, 0.5)
    low, high = wilson(20, 40)
    assert rate["low"] < low and rate["high"] > high


def test_level_rates_keep_the_levels_order_and_their_images_as_n():
    from dlg_helpers.analysis.atlas import level_rates

    rows = level_rates([("one image", _batches(1, [1, 1, 0])), ("batch of 2", _batches(2, [1]))])
    assert [(r["label"], r["n"]) for r in rows] == [("one image", 3), ("batch of 2", 2)]


def test_the_gradient_budget_counts_the_convolutions_once_and_each_images_features():
    from dlg_helpers.analysis.atlas import gradient_budget

    one, four, large = (gradient_budget("lenet", 32), gradient_budget("lenet", 32, 4),
                        gradient_budget("lenet", 64))
    assert one["features"] == four["features"] == large["features"]  # the convolutions
    assert four["classifier"] == 4 * one["classifier"] and four["unknowns"] == 4 * one["unknowns"]
    assert one["ratio"] > 1 > large["ratio"] and four["ratio"] < one["ratio"]


def test_the_factor_and_budget_tables_give_each_level_its_images_and_interval():
    from dlg_helpers.analysis.atlas import level_rates
    from dlg_helpers.book.atlas_tables import budget_table, factor_table

    rows = level_rates([("one image", _batches(1, [1, 0])), ("batch of 4", _batches(4, [4, 0]))])
    table = factor_table({"DLG": rows}).data
    assert "| DLG | batch of 4 | 8 (2 batches) | 50.0 % (" in table
    budget = budget_table([
        {"label": "one image", "features": 8136, "classifier": 768, "unknowns": 3072,
         "ratio": 2.9, "rates": {"DLG": rows[0], "iDLG": rows[0]}},
        {"label": "batch of 4", "features": 8136, "classifier": 3072, "unknowns": 12288,
         "ratio": 0.91, "rates": {"DLG": rows[1]}}]).data
    assert "| one image | 8,904 | 3,072 | 2.90 | 50.0 % (" in budget
    assert budget.splitlines()[-1].endswith("| — |")  # iDLG not measured on the batch


def test_an_image_rate_over_batches_where_nothing_leaked_still_has_a_width():
    from dlg_helpers.analysis.atlas import image_rate

    rate = image_rate(_batches(4, [0] * 26), resamples=200)
    assert rate["rate"] == 0 and rate["low"] == 0
    assert rate["high"] == pytest.approx(wilson(0, 26)[1])  # one draw per attack


def test_a_sweeps_attacks_are_listed_as_a_reader_reads_them():
    from dlg_helpers.book.atlas_tables import attacks_table

    frame = _frame().assign(rank=1, status="matched", steps=12)
    table = attacks_table(frame.head(2)).data
    assert "| cat | yes | 0.900 | 1 | yes | matched | 12 |" in table


def test_seeds_are_reported_apart_with_an_interval_that_counts_networks():
    def level(found_by_seed):
        return pd.DataFrame([{"seed": seed, "identified": int(i < found), "batch": 1}
                             for seed, found in found_by_seed.items() for i in range(50)])

    rows = seed_rates([("one start", level({0: 38, 1: 0})), ("base", level({0: 49, 1: 48})),
                       ("single seed", level({0: 10}))])
    assert [r["level"] for r in rows] == ["one start", "base"]  # one seed tells nothing apart
    apart, agree = rows
    assert apart["apart"] and not agree["apart"]
    assert [(s["seed"], s["found"], s["total"]) for s in apart["seeds"]] == [(0, 38, 50), (1, 0, 50)]
    assert apart["networks_low"] == pytest.approx(wilson(0, 50)[0])
    assert apart["networks_high"] == pytest.approx(wilson(38, 50)[1])


def test_a_defences_leaks_are_counted_with_their_wilson_interval():
    from dlg_helpers.analysis.atlas import defence_leaks

    frame = pd.DataFrame({"defence": ["none"] * 3 + ["gaussian:0.01"] * 4,
                          "leaks": [True, True, True, True, False, False, False],
                          "likeness": [0.9, 0.9, 0.9, 0.8, 0.1, 0.2, 0.3]})
    found = defence_leaks(frame, "gaussian:0.01")
    assert (found["leaked"], found["n"], found["rate"]) == (1, 4, 0.25)
    assert (found["low"], found["high"]) == pytest.approx(wilson(1, 4))
    with pytest.raises(ValueError, match="no attack under 'prune:0.1'; it has gaussian:0.01, none"):
        defence_leaks(frame, "prune:0.1")


def _atlas_table(leaks, labels=None, seeds=(0, 1), batch=1, **columns) -> pd.DataFrame:
    """An atlas table over the pool's first 50 images, one row per image and seed; ``leaks``
    and ``labels`` are the shares (of the images, in order) that succeed."""
    from dlg_helpers.client.pool import pool_sample

    rows = []
    for seed in seeds:
        for index, image in enumerate(pool_sample(50)):
            leaked = index < leaks * 50
            right = index < (leaks if labels is None else labels) * 50
            rows.append({"images": image.name, "sources": image.source, "seed": seed,
                         "leaks": leaked, "identified": int(leaked) * batch, "batch": batch,
                         "label_correct": right, "labels_recovered": int(right) * batch,
                         "likeness": 0.95 if leaked else 0.3,
                         "status": "matched" if leaked else "stalled", **columns})
    return pd.DataFrame(rows)


def test_the_restart_ablation_counts_single_starts_and_judges_the_convergence_claim():
    from dlg_helpers.analysis.atlas import restart_ablation
    from dlg_helpers.analysis.verdicts import Verdict

    one = _atlas_table(0.6, 0.8)
    found = restart_ablation({"dlg-base": _atlas_table(1.0), "dlg-restarts-0": one})
    assert (found.one, found.restarts) == ((80, 60, 100), (100, 100, 100))
    assert (found.unconverged, found.wrong, found.wrong_unconverged) == (40, 20, 20)
    assert found.leaks_apart and found.labels_apart and found.verdict is Verdict.PARTLY
    same = restart_ablation({"dlg-base": _atlas_table(1.0), "dlg-restarts-0": _atlas_table(1.0)})
    assert same.verdict is Verdict.DOES_NOT_HOLD and not same.leaks_apart
    assert restart_ablation({"dlg-base": _atlas_table(1.0)}) is None


def test_a_factor_effect_sets_the_largest_level_against_the_baseline():
    from dlg_helpers.analysis.atlas import factor_effect
    from dlg_helpers.analysis.verdicts import Verdict

    tables = {"dlg-base": _atlas_table(1.0), "dlg-resolution-16": _atlas_table(1.0),
              "dlg-resolution-64": _atlas_table(0.02)}
    effect = factor_effect(tables, "dlg", "resolution")
    assert (effect.baseline["label"], effect.level["label"]) == ("32 × 32", "64 × 64")
    assert effect.prevention.verdict is Verdict.HOLDS
    assert factor_effect(tables, "dlg", "resolution", "16 × 16").prevention.verdict is (
        Verdict.DOES_NOT_HOLD)
    tables["dlg-resolution-64"] = _atlas_table(0.5)
    assert factor_effect(tables, "dlg", "resolution").prevention.verdict is Verdict.PARTLY
    assert factor_effect(tables, "dlg", "batch") is None


def test_the_failed_endings_count_how_the_attacks_that_leaked_nothing_ended():
    from dlg_helpers.analysis.atlas import failed_endings

    tables = {"dlg-base": _atlas_table(1.0),
              "dlg-batch-2": _atlas_table(0.0, batch=2, status="plateaued")}
    found = failed_endings(tables)
    assert (found.attacks, found.plateaued, found.budget, found.stalled) == (100, 100, 0, 0)
    assert failed_endings({"dlg-base": _atlas_table(1.0)}) is None


def test_the_budget_rows_give_each_setting_its_count_and_each_attacks_rate():
    from dlg_helpers.analysis.atlas import budget_rows

    tables = {"dlg-base": _atlas_table(1.0), "dlg-batch-2": _atlas_table(0.1, batch=2),
              "inverting-gradients-base": _atlas_table(1.0),
              "inverting-gradients-batch-2": _atlas_table(0.6, batch=2)}
    (row,) = budget_rows(tables)
    assert row["label"] == "batch of 2, 32 × 32" and row["unknowns"] == 2 * 3 * 32 * 32
    assert set(row["rates"]) == {"DLG", "inverting gradients"}
    assert row["rates"]["DLG"]["identified"] == 20


def _budget(*settings):
    """Budget rows from (ratio, {attack: share leaked}) pairs, 100 images each."""
    return [{"ratio": ratio, "label": f"setting {ratio}",
             "rates": {name: {"rate": rate, "identified": round(100 * rate), "images": 100}
                       for name, rate in shares.items()}}
            for ratio, shares in settings]


def test_the_budget_order_holds_where_the_ratio_separates_the_outcomes():
    from dlg_helpers.analysis.atlas import budget_order
    from dlg_helpers.analysis.verdicts import Verdict

    prior = frozenset({"inverting gradients"})
    found = budget_order(_budget((3.0, {"DLG": 0.9, "inverting gradients": 0.8}),
                                 (1.5, {"DLG": 0.7}),
                                 (0.9, {"DLG": 0.01, "inverting gradients": 0.68}),
                                 (0.5, {"DLG": 0.0, "inverting gradients": 0.1})), prior)
    assert found.verdict is Verdict.HOLDS
    assert (found.lowest_leaking, found.highest_resisting) == (1.5, 0.9)
    assert found.below_one == {"DLG": (1, 200), "inverting gradients": (78, 200)}
    assert found.prior_best["inverting gradients"]["ratio"] == 0.9  # its best setting below 1
    mixed = budget_order(_budget((3.0, {"DLG": 0.2}), (1.5, {"DLG": 0.7})), prior)
    assert mixed.verdict is Verdict.DOES_NOT_HOLD
    assert budget_order(_budget((3.0, {"DLG": 0.9})), prior).verdict is Verdict.NOT_MEASURED


def test_seed_levels_count_a_shared_baseline_once_and_find_seeds_apart():
    from dlg_helpers.analysis.atlas import seed_levels
    from dlg_helpers.book.atlas_tables import seeds_table

    tables = {"dlg-base": _atlas_table(1.0), "dlg-resolution-64": _atlas_table(0.5),
              "dlg-defences": _atlas_table(0.5, defence="gaussian:0.01")}
    rows = seed_levels(tables)
    assert len(rows) == 3 and not any(row["apart"] for row in rows)  # base, 64 × 64, noise
    tables["dlg-resolution-64"] = pd.concat([_atlas_table(0.9, seeds=(0,)),
                                             _atlas_table(0.1, seeds=(1,))])
    (apart,) = [row for row in seed_levels(tables) if row["apart"]]
    assert (apart["attack"], apart["level"]) == ("DLG", "64 × 64")
    assert "seed 0: 45 of 50 (" in seeds_table([apart]).data


def test_the_budget_counts_the_classifier_by_its_input_and_the_rest_once():
    from dlg_helpers.analysis.atlas import gradient_budget, network_budget

    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(),
                                  torch.nn.Linear(4 * 6 * 6, 10))
    one = network_budget(network, (1, 3, 8, 8))
    assert (one["features"], one["classifier"], one["unknowns"]) == (3 * 4 * 9 + 4, 144, 192)
    two = network_budget(network, (2, 3, 8, 8))
    assert two["classifier"] == 288 and two["ratio"] < one["ratio"]
    assert gradient_budget("lenet", 32)["ratio"] == pytest.approx(8904 / 3072)
    with pytest.raises(ValueError, match="nn.Linear"):
        network_budget(torch.nn.Conv2d(3, 4, 3), (1, 3, 8, 8))
