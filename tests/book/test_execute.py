"""Chapters executed in place."""

import nbformat
import pytest

from dlg_helpers.book.execute import execute_chapter, main


@pytest.mark.slow
def test_a_chapter_runs_in_place_from_its_folder_and_keeps_no_widget_state(tmp_path):
    (tmp_path / "data.txt").write_text("found")
    notebook = nbformat.v4.new_notebook(metadata={"widgets": {"stale": True}})
    notebook.cells = [
        nbformat.v4.new_code_cell("X = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider(value=X)"),
        nbformat.v4.new_code_cell("print(open('data.txt').read())"),
    ]
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    execute_chapter(path)
    done = nbformat.read(path, as_version=4)
    assert "widgets" not in done.metadata
    assert done.cells[-1].outputs[0].text.strip() == "found"
    assert done.metadata.papermill.duration > 0


def test_no_chapters_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
