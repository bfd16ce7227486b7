"""Every file of the repository is under a licence a school can reuse (REUSE.toml), and the
citation file names the same licences."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _annotations() -> list[dict]:
    return tomllib.loads((ROOT / "REUSE.toml").read_text())["annotations"]


def _covered(path: str, pattern: str) -> bool:
    """Whether REUSE's ``pattern`` covers ``path``: ``folder/**`` everything under a folder, any
    other pattern that one file (REUSE.toml uses no other globs)."""
    if pattern.endswith("/**"):
        return path.startswith(pattern[:-2])
    assert "*" not in pattern, f"teach _covered the glob {pattern!r}"
    return path == pattern


def test_every_tracked_file_is_covered_by_a_licence():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout.splitlines()
    assert tracked, "run inside the repository's git clone"
    patterns = [p for a in _annotations() for p in a["path"]]
    uncovered = [f for f in tracked if not f.startswith("LICENSES/")
                 and not any(_covered(f, p) for p in patterns)]
    assert not uncovered, f"add these to an annotation of REUSE.toml: {uncovered[:10]}"


def test_every_licence_named_has_its_text_and_the_citation_names_them_all():
    named = {a["SPDX-License-Identifier"] for a in _annotations()}
    texts = {p.stem for p in (ROOT / "LICENSES").glob("*.txt")}
    assert named == texts == {"MIT", "CC-BY-4.0"}
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert set(citation["license"]) == named
    assert (ROOT / "LICENSES" / "CC-BY-4.0.txt").read_text().startswith(
        "Creative Commons Attribution 4.0 International")


def test_the_globs_cover_what_reuse_covers():
    assert _covered("dlg_helpers/attack/engine.py", "dlg_helpers/**")
    assert _covered("Makefile", "Makefile") and not _covered("chapters/x.md", "dlg_helpers/**")
    assert not _covered("a/Makefile", "Makefile")
