"""The built book."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for entry in toc["chapters"]]


@pytest.mark.slow
def test_every_page_of_the_table_of_contents_is_built(book_html):
    for page in _toc_pages():
        assert (book_html / f"{page}.html").is_file(), page
    assert {f"chapters/{path.stem}" for path in NOTEBOOKS} <= set(_toc_pages())


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_is_shown_with_its_caption(book_html, notebook):
    figures = sum(bool({"image/png", "text/html"} & set(output.get("data", {})))  # or animation
                  for cell in json.loads(notebook.read_text())["cells"]
                  if "remove-cell" not in cell.get("metadata", {}).get("tags", [])
                  for output in cell.get("outputs", []))
    page = (book_html / "chapters" / f"{notebook.stem}.html").read_text()
    assert page.count("<figcaption") == figures


@pytest.mark.slow
def test_glued_numbers_reach_the_prose(book_html):
    background = (book_html / "chapters" / "01_background.html").read_text()
    assert "85,036" in background  # a glued number, formatted into the prose


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_launch_links_open_notebooks_that_exist(book_html, notebook):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
    branch = config["repository"]["branch"]
    page = (book_html / "chapters" / f"{notebook.stem}.html").read_text()
    colab = re.findall(rf'https://colab\.research\.google\.com/github/{repo}/blob/{branch}/'
                       rf'([^"?#]+)', page)
    binder = re.findall(rf'https://mybinder\.org/v2/gh/{repo}/{branch}\?urlpath=[^"]*?'
                        rf'(chapters(?:%2F|/)[^"&]+\.ipynb)', page)
    assert colab and binder, "no Colab or Binder launch link"
    for path in colab + [p.replace("%2F", "/") for p in binder]:
        assert (ROOT / path).is_file(), path
    assert f"_sources/chapters/{notebook.stem}.ipynb" in page  # the download button


# What a page of a finished book never says: a run or a measurement still to make.
UNFINISHED = re.compile(r"not stored yet|not measured yet|wanted runs?|still to (?:come|run|make)"
                        r"|to be (?:measured|done)|\bTODO\b|\bTBD\b|coming soon", re.I)


@pytest.mark.slow
def test_no_page_says_that_a_run_or_a_measurement_is_missing(book_html):
    unfinished = {}
    for page in sorted(book_html.glob("chapters/*.html")):
        text = re.sub(r"<[^>]+>", " ", page.read_text())
        found = sorted({m.group(0).lower() for m in UNFINISHED.finditer(text)})
        if found:
            unfinished[page.name] = found
    assert unfinished == {}, f"make the runs or rewrite the sections: {unfinished}"


def test_the_bibliography_labels_entries_by_author_and_year_as_the_text_cites_them(book_html):
    page = (book_html / "chapters" / "bibliography.html").read_text()
    labels = re.findall(r'fn-bracket">\[</span>([^<]*)<', page)
    assert labels and all(re.fullmatch(r"[^,]+, \d{4}[a-z]?", label) for label in labels), labels
    assert "Zhu et al., 2019" in labels and not any("others" in label for label in labels)
