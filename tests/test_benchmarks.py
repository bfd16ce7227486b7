"""The throughput benchmark runs, in miniature (its figures are measured by running it, not here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"


@pytest.fixture(scope="module")
def throughput():
    spec = importlib.util.spec_from_file_location("throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("attack,steps", [("dlg", 1), ("inverting-gradients", 3)])
def test_the_lenet_rows_time_solo_and_batched_attacks_direct_and_structured(
        throughput, attack, steps) -> None:
    rows = throughput.lenet_rows([2], steps=steps, solo_runs=1, attack=attack)
    labels = [label for label, *_ in rows]
    assert labels[0].startswith("one at a time")  # the baseline comes first
    for form in ("direct", "structured"):
        assert f"batched, K = 2, 1 thr, {form}" in labels
        assert f"one at a time, 1 thr, {form}" in labels
    assert all(per_step > 0 and per_evaluation > 0 for *_, per_step, per_evaluation in rows)


def test_lbfgs_alone_times_torchs_and_the_batched_optimiser_with_a_full_history(
        throughput) -> None:
    rows = throughput.lbfgs_alone([2, 3], dim=50, steps=7, timed_from=6)
    assert [label for label, _ in rows] == ["torch.optim.LBFGS, one", "BatchedLBFGS, K = 2",
                                            "BatchedLBFGS, K = 3"]
    assert all(seconds > 0 for _, seconds in rows)
