"""A measurement's table written a row at a time: a run started again reads what was written,
a row cut off by a kill is done again, and the rows end in one Parquet table."""

import pandas as pd

from dlg_helpers.runs.table import ResumableTable


def test_rows_are_kept_as_they_come_and_gathered_into_one_table(tmp_path):
    store = ResumableTable(tmp_path / "t.parquet")
    store.add([{"cell": 1, "leaks": True, "word": "a"}])
    again = ResumableTable(tmp_path / "t.parquet")  # a run started again reads what was written
    assert again.has(cell=1) and again.has(cell=1, leaks=True) and not again.has(cell=2)
    again.add([{"cell": 2, "leaks": False, "word": "b"}])
    frame = pd.read_parquet(again.finish({"word": str.upper, "absent": str}))
    assert list(frame["cell"]) == [1, 2] and list(frame["word"]) == ["A", "B"]
    assert not again.partial.exists()
    killed = ResumableTable(tmp_path / "k.parquet")
    killed.add([{"cell": 1}])
    with killed.partial.open("a") as file:
        file.write('{"cell": 2, "lea')  # a run killed while writing its last row
    resumed = ResumableTable(tmp_path / "k.parquet")
    assert resumed.rows == [{"cell": 1}] and not resumed.has(cell=2)


def test_a_missing_table_names_its_command_and_a_plan_runs_what_it_is_told(tmp_path, capsys):
    import pytest

    from dlg_helpers.runs.table import plan_main, read_table

    with pytest.raises(FileNotFoundError, match="make it with python -m some.plan nothing"):
        read_table(tmp_path, "nothing", "python -m some.plan")

    def make(folder, log):
        log("working")
        table = ResumableTable(folder / "made.parquet")
        table.add([{"x": 1}])
        return table.finish()

    assert plan_main("python -m some.plan", "A plan.", {"made": make}, tmp_path,
                     ["made", "--folder", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "made ->" in out.out and "working" in out.err
    assert list(read_table(tmp_path, "made", "python -m some.plan")["x"]) == [1]
