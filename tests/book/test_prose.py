"""The chapters as lessons: each closes with its takeaways and its box on the report, has an
exercise, and glues at most a few numbers into any one sentence (tables carry the rest).

Run as a script, it prints each chapter's words of prose and glued numbers per sentence, at the
working tree or at a git revision: ``python tests/book/test_prose.py [REVISION]``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted(p for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))

MOST_NUMBERS_IN_A_SENTENCE = 4
"""The brief asks for about three glued numbers at most in a sentence; one more is tolerated
(a range and its n), never a retold table."""

_GLUE = re.compile(r"\{glue(?::text)?\}`[^`]*`")
_FENCE = re.compile(r"^(```|~~~)")


def _markdown(notebook: dict) -> list[str]:
    return ["".join(cell["source"]) for cell in notebook["cells"]
            if cell["cell_type"] == "markdown"]


def prose(notebook: dict) -> str:
    """The chapter's running text: its Markdown without tables, display maths, headings,
    directive lines (``{exercise}``, ``{admonition}``, their options) and code."""
    kept = []
    for text in _markdown(notebook):
        in_code = in_math = False
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("```{") or stripped == "```" or stripped.startswith(":"):
                continue  # a directive's fence or option; its body is prose
            if _FENCE.match(stripped):
                in_code = not in_code
                continue
            if stripped.startswith("$$"):
                in_math = not in_math if stripped.count("$$") == 1 else in_math
                continue
            if in_code or in_math or stripped.startswith(("|", "#")):
                continue
            if not stripped or re.match(r"^([-*]|\d+\.)\s", stripped):
                kept.append("\n")  # a paragraph or a list item starts a new sentence
            kept.append(stripped)
        kept.append("\n")
    return " ".join(kept)


def sentences(text: str) -> list[str]:
    """``text`` cut at paragraph and list-item breaks, and after each full stop, question or
    exclamation mark (or colon) followed by a space and a capital, a bracket or a glue role."""
    found = []
    for block in text.split("\n"):
        found += [s.strip() for s in re.split(r"(?<=[.?!:])\s+(?=[A-Z(*{\[])", block)]
    return [s for s in found if s]


def stats(notebook: dict) -> dict[str, float]:
    """Words of prose, sentences, glued numbers, and the most glued numbers in one sentence."""
    text = prose(notebook)
    counts = [len(_GLUE.findall(s)) for s in sentences(text)]
    return {"words": len(_GLUE.sub("N", text).split()), "sentences": len(counts),
            "glued": sum(counts), "per_sentence": sum(counts) / max(1, len(counts)),
            "most": max(counts, default=0)}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_chapter_closes_with_its_takeaways_and_its_box_on_the_report(path):
    text = "\n".join(_markdown(_load(path)))
    takeaways = text.split("## Key takeaways", 1)
    assert len(takeaways) == 2, "end the chapter with a '## Key takeaways' section"
    section = takeaways[1].split("\n#", 1)[0]
    bullets = [line for line in section.splitlines() if line.startswith("- ")]
    assert 3 <= len(bullets) <= 5, f"3 to 5 takeaways, found {len(bullets)}"
    assert "What the report claimed, and what we found" in text


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_chapter_has_an_exercise_with_a_solution(path):
    text = "\n".join(_markdown(_load(path)))
    assert "```{exercise}" in text and "```{solution-start}" in text


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_sentence_retells_a_table(path):
    crowded = [s for s in sentences(prose(_load(path)))
               if len(_GLUE.findall(s)) > MOST_NUMBERS_IN_A_SENTENCE]
    assert not crowded, f"put these numbers in a table: {crowded[:2]}"


LAB_LOG = re.compile(r"this machine|this CPU|`results/|registry|helper agent|in this edition|"
                     r"earlier rule|torch \d", re.IGNORECASE)
"""Words of the build's log, not of a lesson: where a run was computed, where it is stored, which
edition of the course chose what. They belong on the instructor page or in the README."""


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_sentence_talks_plumbing_to_the_student(path):
    found = [s for s in sentences(prose(_load(path))) if LAB_LOG.search(s)]
    assert not found, f"move this to the instructor page or the README: {found[:2]}"


def test_the_measure_counts_glued_numbers_in_prose_only():
    notebook = {"cells": [{"cell_type": "markdown", "source": [
        "# A {glue:text}`title`\n", "One {glue:text}`a` and {glue:text}`b:.1f`. Two words.\n",
        "| {glue:text}`c` |\n", "```{exercise} X\n", ":label: x\n", "Do {glue}`d`.\n", "```\n"]}]}
    found = stats(notebook)
    assert (found["sentences"], found["glued"], found["most"]) == (3, 3, 2)


def main(argv: list[str]) -> int:
    """Print each chapter's prose statistics at the working tree or at revision ``argv[0]``."""
    print(f"{'chapter':28} {'words':>6} {'sentences':>9} {'glued':>6} {'per sentence':>12} "
          f"{'most':>4}")
    for path in LESSONS if not argv else _revision_lessons(argv[0]):
        name, notebook = path if isinstance(path, tuple) else (path.stem, _load(path))
        s = stats(notebook)
        print(f"{name:28} {s['words']:>6} {s['sentences']:>9} {s['glued']:>6} "
              f"{s['per_sentence']:>12.2f} {s['most']:>4}")
    return 0


def _revision_lessons(revision: str) -> list[tuple[str, dict]]:
    names = subprocess.run(["git", "ls-tree", "--name-only", revision, "chapters/"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    return [(Path(name).stem, json.loads(subprocess.run(
        ["git", "show", f"{revision}:{name}"], cwd=ROOT, check=True, capture_output=True,
        text=True).stdout)) for name in sorted(names) if re.search(r"/\d\d_.*\.ipynb$", name)]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
