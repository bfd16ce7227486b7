"""What a reconstruction leaves behind: the state after each step, each random start, and the
result with the queries a chapter asks of it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import torch

from .config import AttackConfig, Status

__all__ = ["StepRecord", "Attempt", "AttackResult"]


@dataclass(frozen=True)
class StepRecord:
    """The state after ``step`` L-BFGS steps in all (attempt ``attempt``).

    ``mse`` is the report's measure; ``aligned_mse`` the MSE after the contrast and colour-cast
    correction that batch norm hides from the gradient
    (:func:`~dlg_helpers.measures.metrics.aligned_mse`).
    """

    step: int
    attempt: int
    grad_distance: float
    mse: float
    label_pred: list[int]
    evaluations: int
    seconds: float
    aligned_mse: float = math.nan


@dataclass(frozen=True)
class Attempt:
    """One random start: its seed, how it ended, after how many steps, and its best distance."""

    seed: int
    status: Status
    steps: int
    best_distance: float


@dataclass
class AttackResult:
    """Everything a reconstruction produced.

    ``reconstruction`` is the iterate with the smallest gradient distance over all attempts,
    in [0, 1] pixel space (not clipped), shape (B, 3, H, W). ``final_mse`` is its MSE to the
    truth, measured by the observer that filed the result (the attack never computes it).
    """

    reconstruction: torch.Tensor
    truth: torch.Tensor
    label_true: list[int]
    label_pred: list[int]
    history: list[StepRecord]
    attempts: list[Attempt]
    final_mse: float
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)
    config: AttackConfig = field(default_factory=AttackConfig)
    defence: str | None = None  # what the victim did to its gradient (``Defence.text()``)

    @property
    def status(self) -> Status:
        """How the attempt that produced the reconstruction ended."""
        return min(self.attempts, key=lambda a: a.best_distance).status

    @property
    def best_distance(self) -> float:
        return min(a.best_distance for a in self.attempts)

    @property
    def label_correct(self) -> bool:
        """Every private label recovered (in any order: a batch's gradient has no order)."""
        return sorted(self.label_pred) == sorted(self.label_true)

    @property
    def labels_recovered(self) -> int:
        """How many of the private labels were recovered, counted with repeats, in any order."""
        return sum((Counter(self.label_pred) & Counter(self.label_true)).values())

    @property
    def steps(self) -> int:
        return self.history[-1].step

    @property
    def evaluations(self) -> int:
        return self.history[-1].evaluations

    @property
    def wall_seconds(self) -> float:
        return self.history[-1].seconds

    def first_step_below(self, threshold: float, metric: str = "mse") -> int | None:
        """The first step whose ``metric`` (``"mse"`` or ``"aligned_mse"``) is below
        ``threshold``, or None."""
        return next((r.step for r in self.history if getattr(r, metric) < threshold), None)

    def value_at(self, step: int, metric: str = "mse") -> float:
        """``metric`` after ``step`` steps: the last record at or before that step (a long run's
        stored history keeps every k-th step only, :data:`~dlg_helpers.runs.record.
        HISTORY_LIMIT`)."""
        values = [getattr(r, metric) for r in self.history if r.step <= step]
        if not values or step > self.steps:
            raise ValueError(f"no record of step {step}; this run has steps 0 to {self.steps}")
        return values[-1]

    def settling_step(self, metric: str = "mse", factor: float = 2.0) -> int:
        """The first step from which ``metric`` stays within ``factor`` of its final value.

        Within means between ``final / factor`` and ``final * factor``. A reading of "converges
        in N steps" that works at any error level: after this step the curve has flattened out
        (it does not say the final value is small, nor that it fell rather than rose).
        """
        if factor < 1:
            raise ValueError(f"factor must be at least 1, got {factor}")
        final = getattr(self.history[-1], metric)
        settled = self.history[-1].step
        for record in reversed(self.history):
            if not final / factor <= getattr(record, metric) <= factor * final:  # NaN: unsettled
                break
            settled = record.step
        return settled

    def resting_step(self) -> int | None:
        """The step after which L-BFGS stopped moving (one evaluation per step to the end).

        L-BFGS returns after a single evaluation when its own convergence tests pass (the
        objective changed by less than 1e-9, or its gradient is below 1e-7): the optimiser has
        converged, whether or not the image has. None when it was still moving at the end.
        """
        # An attempt that did not diverge ends with one more evaluation, of its final point,
        # which is not an L-BFGS step.
        finals = {max(i for i, r in enumerate(self.history) if r.attempt == index)
                  for index, attempt in enumerate(self.attempts)
                  if attempt.status != "diverged"
                  and any(r.attempt == index for r in self.history)}
        stepping = [r for i, r in enumerate(self.history) if i not in finals]
        resting = None
        for before, after in zip(stepping, stepping[1:]):
            if after.evaluations - before.evaluations > 1 or after.attempt != before.attempt:
                resting = None
            elif resting is None:
                resting = before.step
        return resting
