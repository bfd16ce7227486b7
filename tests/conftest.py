"""Shared fixtures: one thread for reproducible, steady CPU timings; a LeNet and an image; the
built book."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dlg_helpers as dlg

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    torch.set_num_threads(1)


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
