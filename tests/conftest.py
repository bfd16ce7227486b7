"""Shared fixtures: one thread for steady CPU timings; a LeNet and an image; toy results; the
built book. And how ``make test`` spreads the tests over the cores (pytest-xdist)."""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from collections.abc import Callable
from typing import Any
from pathlib import Path

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.analysis.protection import describe_defence
from dlg_helpers.attack.trace import Attempt, StepRecord
from dlg_helpers.cli import main
from dlg_helpers.runs.spec import RunSpec

ROOT = Path(__file__).resolve().parents[1]

# How ``make test`` (``pytest -n auto``) spreads the tests over the cores: the test ids of one
# group run on one worker, in order (see worker_group).
RAY_USERS = ("tests/federation/", "tests/runs/test_sweep.py", "chapters/10_federation.ipynb",
             "tests/book/test_chapters.py::test_chapter_runs_with_quick_parameters[10_federation]")
"""Tests that start Ray (Flower's simulations, the sweep on Ray, chapter 10), by the start of
their ids: one group, since two local Ray clusters at once would compete for the same cores and
for Ray's ports."""

BOOK_READERS = ("tests/book/test_book.py", "tests/book/test_browser.py")
"""Modules that read the built book (the session fixture ``book_html``): one build, one group."""

SPREAD = ("tests/book/test_chapters.py",)
"""Modules whose tests are spread one by one: each is long (a chapter's quick run) and stands
alone, so they balance the cores best apart."""


def worker_group(nodeid: str) -> str:
    """The group of the test ``nodeid`` under pytest-xdist.

    A notebook's cells share one kernel and run in order, so a notebook is a group; any other
    module is a group too, so that its module-scoped fixtures (the nbgrader course, the browser)
    are made once; Ray's users and the book's readers are one group each.
    """
    module = nodeid.split("::")[0]
    if module in BOOK_READERS:
        return "book"
    if nodeid.startswith(RAY_USERS):
        return "ray"
    if module in SPREAD:
        return nodeid
    return module


LONGEST_FIRST = ("tests/test_assignments.py", "ray", "book", "chapters/02_lenet.ipynb",
                 "tests/attack/test_engine.py", "chapters/11_success_rates.ipynb",
                 "chapters/instructor.ipynb", "tests/book/test_chapters.py")
"""The groups that take longest (measured with ``--durations``), started first so that no worker
is left with a long one at the end while the other waits."""


def _start_rank(item: pytest.Item) -> int:
    group = worker_group(item.nodeid)
    group = item.nodeid.split("::")[0] if group == item.nodeid else group  # a spread test
    return LONGEST_FIRST.index(group) if group in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_rank)  # stable: a group's tests keep their order


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's scheduler by scope, with :func:`worker_group` as the scope, taking the
    groups in collection order (:data:`LONGEST_FIRST` first). (Its loadgroup marks do not group
    under pytest 9, whose test ids it can no longer rewrite.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Grouped(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    config.option.loadscopereorder = False
    return Grouped(config, log)


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture()
def logged(caplog) -> Callable[[], str]:
    """What the package logged (it logs what it loads, computes or refuses, at INFO) since the
    last call of the returned function."""
    caplog.set_level(logging.INFO)

    def read() -> str:
        text = caplog.text
        caplog.clear()
        return text

    return read


@pytest.fixture(scope="session")
def cat() -> dlg.ImageSample:
    return dlg.load_image("cat", 32)


@pytest.fixture()
def lenet() -> torch.nn.Module:
    return dlg.build_model("lenet", seed=0)


@pytest.fixture(scope="session")
def book_html() -> Path:
    """The book built from the committed notebooks into ``_build/html`` (as ``make html``)."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")  # the environment's own
    build = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=1200,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    return ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def make_result() -> Callable[..., dlg.AttackResult]:
    """A maker of toy results: one step per value (its MSE and gradient distance; a tenth of it
    the aligned MSE), 20 evaluations a step unless given, one random start, label 1."""
    def make(values: list[float], evaluations: list[int] | None = None) -> dlg.AttackResult:
        counts = evaluations or [20 * (i + 1) for i in range(len(values))]
        history = [StepRecord(step=i, attempt=0, grad_distance=v, mse=v, label_pred=[1],
                              evaluations=n, seconds=float(i), aligned_mse=v / 10)
                   for i, (v, n) in enumerate(zip(values, counts))]
        image = torch.zeros(1, 3, 4, 4)
        return dlg.AttackResult(reconstruction=image, truth=image, label_true=[1],
                                label_pred=[1], history=history,
                                attempts=[Attempt(0, "budget", len(values) - 1, min(values))],
                                final_mse=0.0)

    return make


@pytest.fixture(scope="session")
def outcome_row() -> Callable[..., dict]:
    """A maker of the defence study's outcome rows (as attack_outcomes makes them) for a run of
    one image whose reconstruction has the given likeness (ranked first, so it leaks from the
    criteria's threshold up)."""
    def row(attack, defence, image, likeness, label=True):
        family, strength = describe_defence(defence)
        quality = {"mse": 1 - likeness, "psnr": 10 * likeness, "ssim": likeness, "r2": likeness,
                   "corrected_ssim": likeness}
        leaks = dlg.criteria.leaks(likeness, 1, 0.0)  # a photograph's look-alike is far
        return {"attack": attack, "defence": defence, "family": family, "strength": strength,
                "image": image, **quality, **{f"best_{k}": v for k, v in quality.items()},
                "likeness": likeness, "rank": 1, "lookalike": 0.0, "batch": 1,
                "identified": int(leaks),
                "leaks": leaks, "aligned_mse": 1 - likeness, "label_true": [0],
                "label_correct": label, "labels_recovered": int(label), "threshold": 1e-3,
                "reconstructed": False, "first_step_below": None, "steps": 10,
                "evaluations": 10, "seconds": 1.0, "every_start_diverged": False}

    return row


@pytest.fixture()
def stored(tmp_path: Path) -> tuple[RunSpec, Path]:
    """A results folder holding one tiny LeNet run (3 steps on coffee), made through the command
    line: its spec and the folder."""
    spec = RunSpec("lenet", ("coffee",), dlg.AttackConfig(steps=3, progress=False))
    out = tmp_path / "lenet" / spec.folder_name
    assert main(shlex.split(spec.command(out))[3:] + ["--no-progress"]) == 0
    return spec, tmp_path
