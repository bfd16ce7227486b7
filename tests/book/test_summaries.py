"""The tables the chapters share."""


import dlg_helpers as dlg
from dlg_helpers import summaries


def test_setting_table_reads_the_registry():
    text = summaries.setting_table("resnet18", dlg.AttackConfig(match_ratio=0, patience=0)).data
    assert "| image size | 224×224 |" in text
    assert "11,689,512 measured; the report says 11,000,000" in text
    assert "early stopping off" in text
    lenet = summaries.setting_table("lenet", dlg.AttackConfig()).data
    assert "scaled to [0, 1]" in lenet and "none in this network" in lenet


def test_parameter_rows_measure_each_model():
    rows = summaries.parameter_rows(("lenet", "resnet18"))
    assert [(r["model"], r["measured"], r["reported"]) for r in rows] == [
        ("lenet", 85_036, 60_000), ("resnet18", 11_689_512, 11_000_000)]
    table = summaries.parameter_table(rows, {"lenet": "another network"}).data
    assert "| lenet | 85,036 | 60,000 | 1.42 | another network |" in table


def test_result_table_leads_with_leakage_in_seven_columns(make_result):
    run = make_result([1.0, 0.5, 0.0005])
    text = summaries.result_table({"toy": run}).data
    assert text.splitlines()[0].count("|") == 8
    # a blank picture identifies nothing; its MSE reached 1e-3 at step 2
    assert text.splitlines()[-1] == "| toy | no (0.00) | 1.00 | 0.0e+00 | 0.0e+00 | yes | 2 |"
    cat = dlg.load_image("cat", 32).pixels
    run.truth, run.reconstruction = cat, cat.clone()
    assert "| toy | yes (1.00) | 1.00 |" in summaries.result_table({"toy": run}).data


def test_chapter_durations_come_from_papermill_metadata(tmp_path):
    import nbformat

    timed = nbformat.v4.new_notebook(metadata={"papermill": {"duration": 90.0}})
    nbformat.write(timed, tmp_path / "a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "b.ipynb")  # never executed
    rows = summaries.chapter_durations(tmp_path)
    assert rows == [{"chapter": "a", "minutes": 1.5}]
    assert "| a | 1.5 min |" in summaries.chapter_duration_table(rows).data
