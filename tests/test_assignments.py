"""The graded assignments (nbgrader): the students' release has no solutions and no hidden
tests, the autograder gives the instructors' version full marks on every autograded part and
the released version zero without crashing, and every part graded by hand has points and a
rubric."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"
ASSIGNMENTS = sorted(p.name for p in (COURSE / "source").iterdir() if p.is_dir())
# The submissions graded: the instructors' notebooks as they are, and the students' release.
SUBMITTERS = {"instructor": "source", "student": "release"}


def _nbgrader(root: Path, *arguments: str) -> None:
    # nbgrader calls alembic and jupyter by name: this environment's, first on the PATH
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(COURSE / "source", root / "source")
    shutil.copy(COURSE / "nbgrader_config.py", root)
    for assignment in ASSIGNMENTS:
        _nbgrader(root, "generate_assignment", assignment, "--force")
    for student, folder in SUBMITTERS.items():
        _nbgrader(root, "db", "student", "add", student)
        for assignment in ASSIGNMENTS:
            shutil.copytree(root / folder / assignment, root / "submitted" / student / assignment)
    for assignment in ASSIGNMENTS:
        _nbgrader(root, "autograde", assignment, "--force")
    return root


def _scores(root: Path) -> dict[tuple[str, str], tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {(a.name, s.student_id): (s.code_score, a.max_code_score)
                for a in gradebook.assignments for s in gradebook.assignment_submissions(a.name)}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_there_are_three_assignments_with_autograded_and_hand_graded_points():
    assert len(ASSIGNMENTS) >= 3
    for assignment in ASSIGNMENTS:
        (notebook,) = (COURSE / "source" / assignment).glob("*.ipynb")
        grades = [c["metadata"]["nbgrader"] for c in _cells(notebook)
                  if c["metadata"].get("nbgrader", {}).get("grade")]
        automatic = sum(g["points"] for g in grades if not g["solution"])
        by_hand = sum(g["points"] for g in grades if g["solution"])
        assert automatic > 0 and by_hand > 0, assignment
        assert any("Rubric" in "".join(c["source"]) for c in _cells(notebook)), assignment


def test_each_assignment_states_the_points_its_cells_carry():
    import re

    for assignment in ASSIGNMENTS:
        (notebook,) = (COURSE / "source" / assignment).glob("*.ipynb")
        cells = _cells(notebook)
        grades = [c["metadata"]["nbgrader"] for c in cells
                  if c["metadata"].get("nbgrader", {}).get("grade")]
        automatic = sum(g["points"] for g in grades if not g["solution"])
        by_hand = sum(g["points"] for g in grades if g["solution"])
        stated = re.search(r"\*\*Points: (\d+)\*\* \((\d+) autograded, (\d+) graded by hand\)",
                           "".join(cells[0]["source"]))
        assert stated, f"{assignment}: state the points in the first cell"
        assert tuple(map(int, stated.groups())) == (automatic + by_hand, automatic, by_hand)


def test_the_release_has_no_solutions_and_no_hidden_tests(course):
    for assignment in ASSIGNMENTS:
        (released,) = (course / "release" / assignment).glob("*.ipynb")
        text = released.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
            assert marker not in text, (assignment, marker)
        assert "raise NotImplementedError()" in text and "YOUR ANSWER HERE" in text


def test_the_instructors_version_scores_full_marks(course):
    scores = _scores(course)
    for assignment in ASSIGNMENTS:
        score, most = scores[assignment, "instructor"]
        assert score == most > 0, assignment


def test_the_released_version_runs_and_scores_zero(course):
    scores = _scores(course)
    for assignment in ASSIGNMENTS:
        assert scores[assignment, "student"][0] == 0, assignment
        assert list((course / "autograded" / "student" / assignment).glob("*.ipynb"))


def test_the_book_never_shows_the_assignments():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "assignments" in config["exclude_patterns"]
    assert "assignments" not in (ROOT / "_toc.yml").read_text()
