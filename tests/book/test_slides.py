"""Each session's slides: MyST turned into Markdown reveal.js can show, with the chapter's own
numbers, and a deck that opens offline (every script and style sheet beside it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlg_helpers.book.slides import SESSIONS, plain_markdown, session_deck, write_slides

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / ".tools" / "slides" / "node_modules"


def test_myst_becomes_markdown_with_the_glued_numbers():
    text = ("```{admonition} What the report claimed\n:class: note\n"
            "LeNet has {glue:text}`params:,` parameters, {term}`DLG`, a {term}`leak <Leak>`"
            " by {eq}`eq-dlg` {cite:p}`zhu2019dlg`, [here](02_lenet.ipynb).\n```\n$$ x $$ (eq-x)")
    plain = plain_markdown(text, {"params": "85036"})
    assert plain.splitlines()[0] == "**What the report claimed**"
    assert ("LeNet has 85,036 parameters, DLG, a leak by (equation) (zhu2019dlg), "
            "[here](../html/chapters/02_lenet.html).") in plain
    assert "```" not in plain and ":class:" not in plain and plain.endswith("$$ x $$")


def test_every_session_covers_chapters_that_exist_and_the_syllabus_uses_them():
    chapters = {p.stem for p in (ROOT / "chapters").glob("*.ipynb")}
    assert all(set(names) <= chapters for _, names in SESSIONS.values())
    syllabus = (ROOT / "chapters" / "syllabus.ipynb").read_text()
    assert "from dlg_helpers.book.slides import SESSIONS" in syllabus


def test_a_deck_holds_the_lesson_not_the_exercises_or_the_plumbing():
    deck = session_deck(1, ROOT / "chapters")
    text = "\n".join(cell.source for cell in deck.cells)
    assert "Key takeaways" in text and "{exercise}" not in text and "## Exercises" not in text
    assert not re.search(r"\{(glue|term|eq|cite)", text)
    kinds = {cell.metadata["slideshow"]["slide_type"] for cell in deck.cells}
    assert kinds == {"slide", "subslide"}
    code = [cell.source for cell in deck.cells if cell.cell_type == "code"]
    assert code and not any(source.startswith(("import ", "from ")) for source in code)


def test_the_slides_open_offline(tmp_path):
    assert ASSETS.is_dir(), "run `make test`, which installs the slides' npm packages"
    (deck,) = write_slides(tmp_path, ROOT / "chapters", ASSETS, sessions=[4])
    html = deck.read_text()
    # what the browser loads: scripts, style sheets and module imports, all beside the deck
    loaded = (re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
              + re.findall(r'<link[^>]*\shref="([^"]+)"', html)
              + re.findall(r"import \w+ from '([^']+)'", html)
              + re.findall(r'"(assets/reveal\.js/[^"]+\.js)"', html))
    assert any("reveal.js" in s for s in loaded) and any("MathJax" in s for s in loaded)
    for source in loaded:
        assert not source.startswith(("http:", "https:", "//")), source
        assert (tmp_path / source.split("?")[0]).is_file(), source


def test_missing_assets_name_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="make slides"):
        write_slides(tmp_path, ROOT / "chapters", tmp_path / "nothing", sessions=[1])


def test_the_syllabus_names_each_session_as_the_slides_do():
    syllabus = (ROOT / "chapters" / "syllabus.ipynb").read_text().lower()
    for number, (title, _) in SESSIONS.items():
        assert f"session {number}: {title.lower()}" in syllabus
