"""The Colab setup cell."""

import nbformat
import pytest

from dlg_helpers.book.colab import (
    SETUP_TAG,
    main,
    repository,
    setup_cell_source,
    sync_chapters,
)


@pytest.fixture()
def book(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://example.org/me/fork/\n  branch: dev\n")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title"),
                      nbformat.v4.new_code_cell("X = 1", metadata={"tags": ["parameters"]})]
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    return config, path


def test_the_cell_is_inserted_once_before_the_parameters(book):
    config, path = book
    assert sync_chapters([path], config) == [path]
    assert sync_chapters([path], config) == []  # idempotent
    cells = nbformat.read(path, as_version=4).cells
    assert SETUP_TAG in cells[1].metadata["tags"] and "remove-cell" in cells[1].metadata["tags"]
    assert "https://example.org/me/fork" in cells[1].source and '"dev"' in cells[1].source
    assert "parameters" in cells[2].metadata["tags"]


def test_a_new_address_updates_the_cell_and_check_only_reports(book, capsys):
    config, path = book
    sync_chapters([path], config)
    config.write_text("repository:\n  url: https://example.org/other/course\n")
    assert main(["--check", "--config", str(config), "--chapters", str(path.parent)]) == 1
    assert "out of date" in capsys.readouterr().out
    assert "example.org/me/fork" in nbformat.read(path, as_version=4).cells[1].source
    assert main(["--config", str(config), "--chapters", str(path.parent)]) == 0
    assert "other/course" in nbformat.read(path, as_version=4).cells[1].source
    assert repository(config) == ("https://example.org/other/course", "main")


def test_a_config_without_repository_is_an_error_with_the_fix(tmp_path, capsys):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    assert main(["--config", str(config), "--chapters", str(tmp_path)]) == 2
    assert "sets no repository.url" in capsys.readouterr().err


def test_the_cell_does_nothing_outside_colab(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(setup_cell_source("https://example.org/x", "main"), {})  # no clone, no chdir
    assert list(tmp_path.iterdir()) == []


def test_the_readme_and_the_citation_follow_the_configured_address(tmp_path):
    from dlg_helpers.book.colab import pages_url, sync_addresses

    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://github.com/Teacher/dlg-fork\n")
    (tmp_path / "CITATION.cff").write_text(
        'repository-code: "https://github.com/dlg-course/gradient-leakage"\n'
        'url: "https://dlg-course.github.io/gradient-leakage/"\n')
    assert pages_url("https://github.com/Teacher/dlg-fork") == "https://teacher.github.io/dlg-fork/"
    assert sync_addresses(tmp_path, config, check=True) == [tmp_path / "CITATION.cff"]
    sync_addresses(tmp_path, config)
    text = (tmp_path / "CITATION.cff").read_text()
    assert "https://github.com/Teacher/dlg-fork\"" in text
    assert "https://teacher.github.io/dlg-fork/" in text
    assert sync_addresses(tmp_path, config) == []  # idempotent; a missing README is skipped
    with pytest.raises(ValueError, match="not a GitHub repository"):
        pages_url("https://example.org/me/fork")


def test_the_repositorys_files_quote_the_configured_address():
    from pathlib import Path

    from dlg_helpers.book.colab import sync_addresses

    root = Path(__file__).resolve().parents[2]
    assert not sync_addresses(root, root / "_config.yml", check=True), (
        "run `python -m dlg_helpers.book.colab` (make book does)")
