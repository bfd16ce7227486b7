"""Results tables as Markdown, and the formatters of their columns."""

from dlg_helpers.book.tables import (
    fmt_int,
    fmt_percent_interval,
    fmt_sci,
    fmt_seconds,
    fmt_spec,
    markdown_table,
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
