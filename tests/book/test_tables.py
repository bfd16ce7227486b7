"""Results tables as Markdown, and the formatters of their columns."""

import math

import pytest

from dlg_helpers.analysis.comparison import collect, group_summary
from dlg_helpers.book.tables import (
    fmt_int,
    fmt_percent_interval,
    fmt_sci,
    fmt_seconds,
    fmt_spec,
    markdown_table,
    measured,
    share_cell,
    summary_table,
    threshold_text,
)


def test_formatters_write_numbers_and_a_mark_for_what_is_missing():
    assert fmt_spec(".2f")(0.12345) == "0.12" and fmt_spec(",")(1234567) == "1,234,567"
    assert fmt_spec(".0%")(0.5) == "50%" and fmt_spec(".1f")(None) == "—"
    assert fmt_sci(3.4e-4) == "3.4e-04" and fmt_sci(None) == "—"
    assert fmt_int(1234.6) == "1,235" and fmt_int(None) == "never"
    assert fmt_seconds(19.74) == "19.7 s"
    assert fmt_percent_interval(0.884, 0.83, 0.9249) == "88 % (83–92 %)"
    assert fmt_percent_interval(0.0107, 0.005, 0.025, digits=1) == "1.1 % (0.5–2.5 %)"


def test_a_table_has_a_header_a_rule_and_a_row_per_entry():
    table = markdown_table([{"a": 1, "b": 0.5}, {"a": 2, "b": 0.25}],
                           {"a": ("count", str), "b": ("share", fmt_spec(".0%"))}).data
    assert table.splitlines() == ["| count | share |", "|---:|---:|", "| 1 | 50% |", "| 2 | 25% |"]


def test_columns_of_short_numbers_align_right_and_words_stay_left():
    table = markdown_table(
        [{"name": "cat", "mse": 3.4e-4, "ci": "0.82 ± 0.05", "verdict": "holds on 4 of 5 images"},
         {"name": "rocket", "mse": None, "ci": "0.10 ± 0.01", "verdict": "holds"}],
        {"name": ("image", str), "mse": ("MSE", fmt_sci), "ci": ("likeness", str),
         "verdict": ("verdict", str)}).data
    assert table.splitlines()[1] == "|---|---:|---:|---|"


def test_attacks_are_compared_by_the_settings_in_which_they_differ():
    from dlg_helpers.attack.config import AttackConfig
    from dlg_helpers.book.tables import settings_table

    table = settings_table({"DLG": AttackConfig(steps=300),
                            "IG": AttackConfig.inverting_gradients(steps=2000)}).data.splitlines()
    assert table[0] == "| setting | DLG | IG |"
    assert "| steps | 300 | 2,000 |" in table and "| optimiser | lbfgs | adam |" in table
    assert "| signed | no | yes |" in table
    assert not any(line.startswith("| history size") for line in table)  # the same in both


def test_glue_stores_a_numpy_scalar_as_a_python_number(monkeypatch):
    import numpy as np
    import myst_nb

    from dlg_helpers.book import text

    stored = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: stored.update({name: value}))
    text.glue("share", np.float64(0.25))
    assert type(stored["share"]) is float and stored["share"] == 0.25


def test_thresholds_and_missing_measures_are_written_as_tables_write_them():
    assert [threshold_text(t) for t in (1e-3, 0.3, 1e-4, 0.05, 2e-5)] == [
        "1e-3", "0.3", "1e-4", "0.05", "2e-5"]
    assert measured(math.nan) == "not measured yet" and measured(0.123, ".1f") == "0.1"


def test_a_summary_table_fits_the_column_and_gives_medians_with_their_intervals(stored):
    spec, results = stored
    collected = collect({"stored": [spec]}, results)
    (one,) = group_summary(collected.rows)
    table = summary_table([one]).data
    assert table.count("|") // (table.count("\n") + 1) - 1 <= 7  # seven columns at most
    assert "[" not in table.splitlines()[-1]  # one run: one number, no interval
    assert f"MSE < {threshold_text(one['threshold'])}" in table
    (three,) = group_summary([{**collected.rows[0], "likeness": x, "best_r2": x}
                              for x in (0.2, 0.5, 0.9)])
    assert "0.50 [0.20, 0.90]" in summary_table([three]).data
    extra = {"runs": ("runs", str), "seconds": ("time", str)}
    with pytest.raises(ValueError, match="do not fit the page"):
        summary_table([three], extra=extra)  # 1 + 2 + 6 columns
    narrow = summary_table([three], extra=extra, measures=("leaked", "likeness", "labels")).data
    assert narrow.splitlines()[0].count("|") == 7 and "R²" not in narrow
    with pytest.raises(ValueError, match="unknown measures"):
        summary_table([three], measures=("psnr",))
    assert "No run of these groups is stored" in summary_table([]).data


def test_a_share_is_written_with_its_count_and_its_wilson_interval():
    assert share_cell(3, 4) == "3/4 (30–95 %)"
