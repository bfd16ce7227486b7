"""The book builds offline from the committed notebooks, with warnings as errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_book_builds_without_warnings(tmp_path):
    jupyter_book = Path(sys.executable).with_name("jupyter-book")  # the environment's own
    build = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(tmp_path),
         "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    for page in ("chapters/intro", "chapters/01_background", "chapters/02_lenet",
                 "chapters/bibliography"):
        assert (html / f"{page}.html").is_file(), page
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        figures = sum("image/png" in output.get("data", {})
                      for cell in json.loads(notebook.read_text())["cells"]
                      for output in cell.get("outputs", []))
        page = (html / "chapters" / f"{notebook.stem}.html").read_text()
        assert page.count("<figcaption") == figures, notebook.stem  # each with its caption
    background = (html / "chapters" / "01_background.html").read_text()
    assert "85,036" in background  # a glued number, formatted into the prose
