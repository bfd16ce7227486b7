"""The book builds offline from the committed notebooks, with warnings as errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_book_builds_without_warnings(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "jupyter_book", "build", str(ROOT), "--path-output", str(tmp_path),
         "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    for page in ("chapters/intro", "chapters/01_background", "chapters/02_lenet",
                 "chapters/bibliography"):
        assert (html / f"{page}.html").is_file(), page
    lenet = (html / "chapters" / "02_lenet.html").read_text()
    assert lenet.count("<figcaption") >= 5  # every figure rendered with its caption
    background = (html / "chapters" / "01_background.html").read_text()
    assert "85,036" in background  # a glued number, formatted into the prose
