"""Results tables as Markdown, and the formatters of their columns."""

from dlg_helpers.book.tables import (
    fmt_int,
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


def test_a_table_has_a_header_a_rule_and_a_row_per_entry():
    table = markdown_table([{"a": 1, "b": 0.5}, {"a": 2, "b": 0.25}],
                           {"a": ("count", str), "b": ("share", fmt_spec(".0%"))}).data
    assert table.splitlines() == ["| count | share |", "|---|---|", "| 1 | 50% |", "| 2 | 25% |"]
