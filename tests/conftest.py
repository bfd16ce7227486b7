"""Shared fixtures: one thread for reproducible, steady CPU timings; a LeNet and an image."""

from __future__ import annotations

import pytest
import torch

import dlg_helpers as dlg


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cat() -> dlg.ImageSample:
    return dlg.load_image("cat", 32)


@pytest.fixture()
def lenet() -> torch.nn.Module:
    return dlg.build_model("lenet", seed=0)
