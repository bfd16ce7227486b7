"""Success rates over a sweep's table."""

from __future__ import annotations

import pandas as pd
import pytest

from dlg_helpers.analysis.atlas import (image_bootstrap, image_features, rates, resistance,
                                         seed_rates)
from dlg_helpers.analysis.intervals import wilson


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
