"""Stored runs side by side: collected by group and summarised."""

import math
from dataclasses import replace

import pytest

from dlg_helpers.analysis.comparison import (
    collect,
    group_summary,
    orders_apart,
    paired_orders,
    summaries,
    value,
)


def test_collect_loads_stored_runs_and_names_the_commands_of_missing_ones(stored):
    spec, results = stored
    absent = replace(spec, images=("rocket",))
    collected = collect({"stored": [spec], "absent": [absent]}, results)
    assert [row["group"] for row in collected.rows] == ["stored"]
    assert collected.results["absent"] == [] and len(collected.results["stored"]) == 1
    assert collected.missing == [absent.command(results / "lenet" / absent.folder_name)]
    (summary,) = group_summary(collected.rows)
    # one run: a median with no interval, and a table row that shows one number
    assert summary["runs"] == 1 and summary["mse_low"] is None and summary["mse_coverage"] is None
    # three L-BFGS steps from noise do not leak: 0 of 1, whose interval still reaches 79 %
    assert summary["leaked"] == 0 and summary["leaked_low"] == 0
    assert summary["leaked_high"] == pytest.approx(0.79, abs=0.01)
    several = [{**collected.rows[0], "likeness": x, "best_r2": x} for x in (0.2, 0.5, 0.9)]
    (three,) = group_summary(several)
    assert three["likeness_low"] == 0.2 and three["likeness_high"] == 0.9
    assert three["likeness_coverage"] == pytest.approx(0.75)


def test_summaries_warn_of_what_is_missing_and_value_reads_nan_for_it(stored, caplog):
    spec, results = stored
    _, by_group = summaries({"stored": [spec], "absent": [replace(spec, images=("rocket",))]},
                            results)
    assert "1 wanted runs are not stored yet" in caplog.text
    assert value(by_group, "stored", "runs") == 1 and math.isnan(value(by_group, "absent", "runs"))
    assert by_group["stored"]["seconds_per_evaluation"] > 0


def test_paired_orders_refuses_two_runs_of_one_group_on_one_image():
    rows = [{"group": "a", "images": "cat", "mse": 1.0}, {"group": "a", "images": "cat", "mse": 2.0}]
    with pytest.raises(ValueError, match="group 'a' has two runs on 'cat'"):
        paired_orders(rows, "a", "b")


def test_orders_apart_compare_the_images_both_ran_on(make_result):
    high = {"cat": make_result([1.0, 0.1]), "dog": make_result([1.0, 1.0])}
    low = {"cat": make_result([1.0, 1e-4])}
    assert orders_apart(high, low, 1) == pytest.approx({"cat": 3.0})
    assert orders_apart(low, high, 1) == pytest.approx({"cat": -3.0})


def test_counts_read_a_summary_and_tested_sizes_leave_out_what_tested_nothing():
    from dlg_helpers.analysis.comparison import identified_counts, leak_counts, tested_sizes

    summary = {"A": {"leaked": 4, "runs": 5, "identified": 6, "private_images": 8,
                     "all_diverged": 0},
               "B": {"leaked": 0, "runs": 2, "identified": 0, "private_images": 2,
                     "all_diverged": 2}}
    assert leak_counts(summary, "A") == (4, 5) and leak_counts(summary, "C") == (0, 0)
    assert identified_counts(summary, "A") == (6, 8) and identified_counts(summary, "C") == (0, 0)
    # B diverged from every start of every run, C is not stored: neither says anything of size
    assert tested_sizes(summary, {"a": "A", "b": "B", "c": "C"}, {"a": 1, "b": 2, "c": 3}) == {
        "a": (1, 4, 5)}
