"""Slides for each session of the syllabus, built offline from the executed chapters.

A session's deck is the chapters it covers, from their opening to their key takeaways: each
heading opens a slide, each paragraph, table or figure after it a sub-slide (reveal.js's
vertical step), and the exercises stay in the book. The MyST the book renders (glued numbers,
glossary terms, equation references, citations, admonitions) is turned into plain Markdown so
nbconvert's reveal.js exporter can show it; the numbers are the chapter's own glued values.

``python -m dlg_helpers.book.slides --assets DIR --out _build/slides`` writes one
``session-N.slides.html`` per session and copies reveal.js, RequireJS, jQuery and MathJax 2 from
``DIR`` (the npm packages ``make slides`` installs) beside them, so that the decks open without a
network.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SESSIONS", "ASSET_PACKAGES", "glued_values", "plain_markdown", "session_deck",
           "write_slides", "main"]

SESSIONS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("What a gradient gives away", ("01_background", "02_lenet")),
    2: ("Large models, and what counts as a leak", ("03_resnet18", "06_mse_analysis")),
    3: ("How often it works, and why it fails", ("07_threats", "11_success_rates")),
    4: ("What stops it, and at what price", ("09_defences",)),
    5: ("Real federations, and the threads together", ("10_federation", "13_conclusions")),
}
"""The unit's sessions: a title and the chapters each covers (the syllabus page reads it too)."""

ASSET_PACKAGES = {"reveal.js": "reveal.js", "requirejs": "requirejs", "jquery": "jquery",
                  "mathjax": "mathjax"}
"""The npm packages a deck needs beside it, by the folder they are copied to."""

_ROLE = re.compile(r"\{(glue(?::text)?|term|eq|cite(?::[pt])?|ref|numref|doc)\}`([^`]*)`")
_FENCE = re.compile(r"^```+\{(\w[\w-]*)\}\s*(.*)$")
_PAGE_LINK = re.compile(r"\]\(([\w/-]+)\.(?:ipynb|md)(#[\w-]+)?\)")


def glued_values(notebook: Any) -> dict[str, str]:
    """Each value a chapter glued, as the plain text its output holds."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                text = output.get("data", {}).get("text/plain", "")
                values[name] = text.strip("'\"")
    return values


def _format(value: str, spec: str) -> str:
    try:
        number = int(value) if re.fullmatch(r"-?\d+", value) else float(value)
    except ValueError:
        return value
    try:
        return format(int(number) if spec.endswith("d") else number, spec)
    except ValueError:
        return value


def plain_markdown(text: str, glued: Mapping[str, str]) -> str:
    """``text`` with MyST's roles and directives turned into Markdown nbconvert can show:
    glued numbers formatted as the book formats them, terms as their words, equation and
    cross references and citations as short text, links to chapters pointed at the built book
    (``_build/html``, beside ``_build/slides``), directive fences dropped (an admonition's title
    kept in bold), labels and options removed."""
    def role(match: re.Match) -> str:
        kind, body = match.groups()
        if kind.startswith("glue"):
            name, _, spec = body.partition(":")
            value = glued.get(name, "…")
            return _format(value, spec) if spec else value
        if kind in ("term", "ref", "numref", "doc"):
            return re.sub(r"\s*<[^>]*>$", "", body)
        if kind == "eq":
            return "(equation)"
        return "(" + body.replace(",", ", ") + ")"  # a citation: its keys

    lines = []
    for line in text.splitlines():
        fence = _FENCE.match(line.strip())
        if fence:
            kind, title = fence.groups()
            if kind == "admonition" and title:
                lines.append(f"**{title}**")
            continue
        if line.strip().startswith("```") or re.match(r"^:\w[\w-]*:", line.strip()):
            continue  # a directive's closing fence or its options
        line = _PAGE_LINK.sub(r"](../html/chapters/\1.html\2)", line)  # the built book's page
        line = re.sub(r"^(\$\$.*\$\$)\s*\(\S+\)$", r"\1", line)  # an equation's label
        line = re.sub(r"^\$\$\s*\(\S+\)$", "$$", line)
        lines.append(_ROLE.sub(role, line))
    return "\n".join(lines)


def _lesson_cells(notebook: Any) -> list[Any]:
    """The cells a reader sees, from the opening to the end of the key takeaways, without the
    cells that only set up imports."""
    kept = []
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        source = cell.source
        if cell.cell_type == "markdown" and re.match(r"##\s+Exercises", source.lstrip()):
            break
        if cell.cell_type == "code" and ("remove-cell" in tags or "parameters" in tags):
            continue
        code = [line for line in source.splitlines() if line.strip()
                and not line.lstrip().startswith("#")]
        if cell.cell_type == "code" and code and code[0].startswith(("import ", "from ")):
            continue  # the setup a chapter's code needs, not what it teaches
        kept.append(cell)
    return kept


def session_deck(session: int, chapters_dir: str | Path) -> Any:
    """The deck of ``session`` (a key of :data:`SESSIONS`) as a notebook with reveal.js slide
    types, from the executed chapters in ``chapters_dir``."""
    import nbformat

    title, chapters = SESSIONS[session]
    deck = nbformat.v4.new_notebook()
    opening = nbformat.v4.new_markdown_cell(f"# Session {session}\n\n## {title}")
    opening.metadata["slideshow"] = {"slide_type": "slide"}
    deck.cells.append(opening)
    for chapter in chapters:
        notebook = nbformat.read(Path(chapters_dir) / f"{chapter}.ipynb", as_version=4)
        glued = glued_values(notebook)
        for cell in _lesson_cells(notebook):
            cell = nbformat.from_dict(cell)
            if cell.cell_type == "markdown":
                cell.source = plain_markdown(cell.source, glued)
                heading = cell.source.lstrip().startswith("#")
                kind = "slide" if heading else "subslide"
            else:
                cell.outputs = [o for o in cell.outputs
                                if "scrapbook" not in o.get("metadata", {})]
                kind = "subslide"
            cell.metadata["slideshow"] = {"slide_type": kind}
            deck.cells.append(cell)
    deck.metadata["title"] = f"Session {session}: {title}"
    return deck


def write_slides(out: str | Path, chapters_dir: str | Path, assets: str | Path,
                 sessions: Sequence[int] = tuple(SESSIONS)) -> list[Path]:
    """Write each session's deck as ``out/session-N.slides.html``, with the packages of
    :data:`ASSET_PACKAGES` copied from ``assets`` (a ``node_modules`` folder) into
    ``out/assets``. Returns the decks written.

    Raises:
        FileNotFoundError: when a package is missing from ``assets`` (``make slides`` installs
            them).
    """
    from nbconvert import SlidesExporter

    out, assets = Path(out), Path(assets)
    for package in ASSET_PACKAGES:
        if not (assets / package).is_dir():
            raise FileNotFoundError(f"{assets / package} is missing: run `make slides`, which "
                                    "installs reveal.js, requirejs, jquery and mathjax@2")
        shutil.copytree(assets / package, out / "assets" / ASSET_PACKAGES[package],
                        dirs_exist_ok=True)
    # the template imports Mermaid for diagrams, which the chapters have none of: a stand-in
    (out / "assets" / "no-diagrams.mjs").write_text("export default { initialize() {} };\n")
    exporter = SlidesExporter(
        reveal_url_prefix="assets/reveal.js", reveal_scroll=True,
        jquery_url="assets/jquery/dist/jquery.min.js",
        require_js_url="assets/requirejs/require.js",
        mathjax_url="assets/mathjax/MathJax.js?config=TeX-AMS_HTML",
        mermaid_js_url="./assets/no-diagrams.mjs",
        exclude_input_prompt=True, exclude_output_prompt=True)
    written = []
    for session in sessions:
        body, _ = exporter.from_notebook_node(session_deck(session, chapters_dir))
        path = out / f"session-{session}.slides.html"
        path.write_text(body)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlg_helpers.book.slides --assets DIR [--chapters chapters] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m dlg_helpers.book.slides",
                                     description="Build each session's reveal.js slides from "
                                                 "the executed chapters.")
    parser.add_argument("--assets", type=Path, required=True,
                        help="the node_modules folder holding reveal.js, requirejs, jquery, "
                             "mathjax")
    parser.add_argument("--chapters", type=Path, default=Path("chapters"))
    parser.add_argument("--out", type=Path, default=Path("_build/slides"))
    args = parser.parse_args(argv)
    try:
        for path in write_slides(args.out, args.chapters, args.assets):
            print(path)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
