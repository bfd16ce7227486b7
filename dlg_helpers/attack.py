"""The gradient-matching reconstruction: find an image (and label) whose gradient matches the
shared one.

By default the optimiser is DLG's: L-BFGS with learning rate 1, history 100 and 20 iterations per
step on the squared gradient distance, from a dummy image drawn from N(0, 1). Around it, the engine
adds what the original loop lacks, using only what an attacker can see (the gradient distance, never
the private image): it stops when the distance has fallen far enough or stopped falling, it notices
divergence, it keeps the best iterate, and it restarts from a new random start when an attempt
fails, all within one budget of steps.

The same engine runs the attack the field uses now (Geiping et al. 2020,
:meth:`AttackConfig.inverting_gradients`): cosine gradient matching, a total-variation prior, Adam
on the signed gradient with a decaying step, the image kept in its valid range, and several
independent trials of which the one with the smallest gradient distance wins.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .attacks import ATTACKS, DEFAULT_ATTACK, attack_entry
from .defences import Defence
from .gradients import (DISTANCES, classification_loss, classifier_gradient, idlg_labels,
                        shared_gradient)
from .metrics import aligned_mse, mse
from .models import Normalisation
from .priors import total_variation

__all__ = ["AttackConfig", "StepRecord", "Attempt", "AttackResult", "Attack", "reconstruct",
           "AttackDivergedWarning", "config_dict"]

LabelMode = Literal["joint", "idlg", "known"]
Optimiser = Literal["lbfgs", "adam"]
Distance = Literal["euclidean", "cosine"]
Status = Literal["matched", "plateaued", "stalled", "diverged", "budget"]
LABEL_MODES: tuple[str, ...] = ("joint", "idlg", "known")
OPTIMISERS: tuple[str, ...] = ("lbfgs", "adam")
LR_DECAY_MILESTONES = (3 / 8, 5 / 8, 7 / 8)  # Geiping et al.: the step falls 10x at each


@dataclass(frozen=True)
class AttackConfig:
    """Every knob of the attack; the defaults are the report's setting.

    Attributes:
        steps: optimiser steps in all, shared by all attempts (the report ran 300 L-BFGS steps).
        lr, history_size, max_iter: ``torch.optim.LBFGS`` settings (report: 1, 100, 20); ``lr``
            is Adam's learning rate too (history_size and max_iter are L-BFGS's alone).
        label_mode: ``"joint"`` optimises a soft label with the image (DLG); ``"idlg"`` reads the
            labels off the classifier's gradient first (iDLG; a batch needs distinct labels);
            ``"known"`` gives the attacker the true label.
        optimiser: ``"lbfgs"`` (DLG: up to ``max_iter`` evaluations per step) or ``"adam"`` (one
            evaluation per step).
        distance: the gradient-matching loss, ``"euclidean"`` (DLG's squared distance) or
            ``"cosine"`` (one minus the cosine similarity, Geiping et al.).
        tv_weight: weight of the total-variation prior added to the matching loss (0: none).
        boxed: keep the image in its valid range [0, 1] after every step.
        signed: step on the sign of the image's gradient (Adam only, as Geiping et al.).
        lr_decay: divide the step by 10 at 3/8, 5/8 and 7/8 of each trial's steps.
        trials: independent random starts, each with an equal share of ``steps``; the one with
            the smallest gradient distance wins (1: DLG's single start).
        seed: seed of the first random start; restarts derive theirs from it.
        snapshot_every: keep a copy of the image every this many steps (0 keeps none).
        match_ratio: stop, matched, once the distance is below this fraction of the starting
            distance (0 turns the test off).
        patience, plateau_tolerance: an attempt has plateaued when its best distance fell by less
            than this fraction over the last ``patience`` steps (``patience=0`` turns it off).
        restart_ratio: a plateau above this fraction of the starting distance is a stall, and
            the engine restarts.
        divergence_factor: a distance this many times the starting one means divergence.
        max_pixel: a dummy input larger than this in magnitude means divergence.
        restarts: how many new random starts a failed attempt may get.
        attack: the registered attack these settings are a variant of
            (:data:`~dlg_helpers.attacks.ATTACKS`): its stored runs are filed, named and
            described by it.
        progress: show a progress bar.
    """

    steps: int = 300
    lr: float = 1.0
    history_size: int = 100
    max_iter: int = 20
    label_mode: LabelMode = "joint"
    seed: int = 0
    snapshot_every: int = 10
    match_ratio: float = 1e-7
    patience: int = 10
    plateau_tolerance: float = 0.2
    restart_ratio: float = 1e-4
    divergence_factor: float = 1e3
    max_pixel: float = 1e3
    restarts: int = 4
    optimiser: Optimiser = "lbfgs"
    distance: Distance = "euclidean"
    tv_weight: float = 0.0
    boxed: bool = False
    signed: bool = False
    lr_decay: bool = False
    trials: int = 1
    attack: str = DEFAULT_ATTACK
    progress: bool = True

    @classmethod
    def inverting_gradients(cls, steps: int = 6000, trials: int = 2, tv_weight: float = 1e-2,
                            **overrides: Any) -> AttackConfig:
        """The attack of Geiping et al. (2020), "Inverting Gradients", with the iDLG label.

        Cosine matching, a total-variation prior, Adam (lr 0.1) on the signed gradient with the
        step decaying 10x at 3/8, 5/8 and 7/8 of each trial, the image kept in [0, 1], and
        ``trials`` random starts judged by their gradient distance. The default budget of 6,000
        evaluations is what DLG's 300 L-BFGS steps may spend (20 per step), so the two compare
        at equal cost. It runs to its budget: the early stops are DLG's.
        """
        settings: dict[str, Any] = dict(
            steps=steps, trials=trials, tv_weight=tv_weight, optimiser="adam", lr=0.1,
            distance="cosine", boxed=True, signed=True, lr_decay=True, label_mode="idlg",
            match_ratio=0.0, patience=0, restarts=0, snapshot_every=max(1, steps // 30),
            attack="inverting-gradients")
        settings.update(overrides)
        return cls(**settings)

    @property
    def name(self) -> str:
        """The attack's name in prose, from its registry entry: ``"DLG"``,
        ``"inverting gradients"``."""
        return attack_entry(self.attack).display

    def __post_init__(self) -> None:
        if self.label_mode not in LABEL_MODES:
            raise ValueError(
                f"unknown label_mode {self.label_mode!r}; use one of {', '.join(LABEL_MODES)}"
            )
        if self.steps < 1 or self.max_iter < 1 or self.history_size < 1:
            raise ValueError("steps, max_iter and history_size must be at least 1")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.restarts < 0 or self.patience < 0 or self.snapshot_every < 0:
            raise ValueError("restarts, patience and snapshot_every cannot be negative")
        if not (0 <= self.match_ratio < 1 and 0 < self.restart_ratio <= 1
                and 0 <= self.plateau_tolerance < 1):
            raise ValueError("match_ratio, restart_ratio and plateau_tolerance are fractions in [0, 1)")
        if self.divergence_factor <= 1:
            raise ValueError("divergence_factor must exceed 1")
        if self.optimiser not in OPTIMISERS:
            raise ValueError(
                f"unknown optimiser {self.optimiser!r}; use one of {', '.join(OPTIMISERS)}")
        if self.distance not in DISTANCES:
            raise ValueError(
                f"unknown distance {self.distance!r}; use one of {', '.join(DISTANCES)}")
        if self.tv_weight < 0:
            raise ValueError(f"tv_weight cannot be negative, got {self.tv_weight}")
        if self.signed and self.optimiser != "adam":
            raise ValueError("signed steps need optimiser='adam' (L-BFGS needs the true gradient)")
        if not 1 <= self.trials <= self.steps:
            raise ValueError(f"trials must be between 1 and steps ({self.steps}), got {self.trials}")
        if self.attack not in ATTACKS:
            raise ValueError(f"unknown attack {self.attack!r}; use one of {', '.join(ATTACKS)}, "
                             "or register it with dlg_helpers.attacks.register_attack")


class AttackDivergedWarning(UserWarning):
    """Every attempt of an attack diverged."""


@dataclass(frozen=True)
class StepRecord:
    """The state after ``step`` L-BFGS steps in all (attempt ``attempt``).

    ``mse`` is the report's measure; ``aligned_mse`` the MSE after the contrast and colour-cast
    correction that batch norm hides from the gradient (:func:`~dlg_helpers.metrics.aligned_mse`).
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
    in [0, 1] pixel space (not clipped), shape (B, 3, H, W).
    """

    reconstruction: torch.Tensor
    truth: torch.Tensor
    label_true: list[int]
    label_pred: list[int]
    history: list[StepRecord]
    attempts: list[Attempt]
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)
    config: AttackConfig = field(default_factory=AttackConfig)
    defence: str | None = None  # what the victim did to its gradient (``Defence.text()``)

    @property
    def status(self) -> Status:
        """How the attempt that produced the reconstruction ended."""
        return min(self.attempts, key=lambda a: a.best_distance).status

    @property
    def final_mse(self) -> float:
        return mse(self.reconstruction, self.truth)

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
        """``metric`` after ``step`` steps (the last record of that step)."""
        values = [getattr(r, metric) for r in self.history if r.step == step]
        if not values:
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

    def summary(self) -> dict[str, object]:
        """The headline numbers, JSON-ready."""
        return {
            "final_mse": self.final_mse,
            "label_true": self.label_true,
            "label_pred": self.label_pred,
            "label_correct": self.label_correct,
            "status": self.status,
            "best_grad_distance": self.best_distance,
            "steps": self.steps,
            "evaluations": self.evaluations,
            "wall_seconds": self.wall_seconds,
            "attempts": [asdict(a) for a in self.attempts],
        }


def _attempt_seed(seed: int, attempt: int) -> int:
    if attempt == 0:
        return seed
    return int(np.random.SeedSequence([seed, attempt]).generate_state(1)[0])


class _Objective:
    """The matching objective with a counter and a memory of the best point it has seen.

    The best point is judged by the gradient distance alone, what the attacker can measure
    (the prior says what the attacker hopes, not what it has matched).
    """

    def __init__(self, model: nn.Module, shared: list[torch.Tensor],
                 fixed_labels: torch.Tensor | None, config: AttackConfig) -> None:
        self.model = model
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.shared = shared
        self.fixed_labels = fixed_labels
        self.matching = DISTANCES[config.distance]
        self.tv_weight = config.tv_weight
        self.evaluations = 0
        self.best_distance: float
        self.best_input: torch.Tensor | None
        self.best_labels: list[int]
        self.forget_best()

    def forget_best(self) -> None:
        """Start a new attempt's memory of its best point."""
        self.best_distance, self.best_input, self.best_labels = math.inf, None, []

    def state_dict(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "best_distance": self.best_distance,
                "best_input": None if self.best_input is None else self.best_input.cpu(),
                "best_labels": self.best_labels}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.evaluations, self.best_distance = state["evaluations"], state["best_distance"]
        self.best_input = None if state["best_input"] is None else state["best_input"].to(device)
        self.best_labels = state["best_labels"]

    def soft_labels(self, label_logits: torch.Tensor) -> torch.Tensor:
        if self.fixed_labels is not None:
            return F.one_hot(self.fixed_labels, label_logits.shape[-1]).float()
        return F.softmax(label_logits, dim=-1)

    def evaluate(self, dummy: torch.Tensor, label_logits: torch.Tensor,
                 create_graph: bool) -> tuple[torch.Tensor, float]:
        """The objective to minimise (matching loss plus prior) and the gradient distance."""
        self.evaluations += 1
        loss = classification_loss(self.model(dummy), self.soft_labels(label_logits))
        grads = torch.autograd.grad(loss, self.parameters, create_graph=create_graph)
        matching = self.matching(list(grads), self.shared)
        distance = float(matching.detach())
        if distance < self.best_distance:  # False for NaN, so a diverged point is never kept
            self.best_distance = distance
            self.best_input = dummy.detach().clone()
            self.best_labels = self.predicted_labels(label_logits)
        if self.tv_weight:
            return matching + self.tv_weight * total_variation(dummy), distance
        return matching, distance

    def predicted_labels(self, label_logits: torch.Tensor) -> list[int]:
        if self.fixed_labels is not None:
            return self.fixed_labels.tolist()
        return label_logits.detach().argmax(dim=-1).tolist()


def _plateaued(best_so_far: list[float], patience: int, tolerance: float) -> bool:
    if patience == 0 or len(best_so_far) <= patience:
        return False
    before, now = best_so_far[-1 - patience], best_so_far[-1]
    return before - now < tolerance * before


@dataclass
class _AttemptState:
    """The live state of the current random start."""

    index: int
    seed: int
    dummy: torch.Tensor
    label_logits: torch.Tensor
    optimizer: torch.optim.Optimizer
    initial: float | None = None
    best_so_far: list[float] = field(default_factory=list)
    first_step: int = 0


class Attack:
    """A DLG reconstruction that runs step by step, and can be checkpointed and resumed.

    ``Attack(...).run()`` does what :func:`reconstruct` does. ``run(max_steps=k)`` pauses after
    ``k`` more steps; :meth:`save` writes everything needed to continue (images, labels, L-BFGS
    state, history, snapshots, the best iterate, clocks and counters) and :meth:`resume` picks it
    up again, giving the same history as a run that was never interrupted.

    Args:
        model: the shared model (train or eval mode as the victim uses it); its device is used.
        pixels: the private images in [0, 1], shape (B, 3, H, W). They produce the shared
            gradient and are used only to *measure* the reconstruction, never to steer it.
        labels: their class indices.
        config: the attack's settings.
        normalisation: how pixels become model input (the model's ``ModelSpec.normalisation``).
        defence: what the victim does to its gradient before sharing it (None: nothing); its
            randomness is seeded with ``config.seed``.
    """

    def __init__(self, model: nn.Module, pixels: torch.Tensor,
                 labels: torch.Tensor | list[int] | int, config: AttackConfig = AttackConfig(),
                 normalisation: Normalisation = Normalisation(),
                 defence: Defence | None = None) -> None:
        device = next(model.parameters()).device
        if pixels.dim() != 4 or pixels.shape[1] != 3:
            raise ValueError(
                f"pixels must have shape (B, 3, H, W), got {tuple(pixels.shape)}; "
                "use dlg_helpers.load_image(...).pixels"
            )
        if pixels.min() < 0 or pixels.max() > 1:
            raise ValueError(
                f"pixels must lie in [0, 1], got [{float(pixels.min()):.3g}, "
                f"{float(pixels.max()):.3g}]; pass unnormalised images and the model's "
                "normalisation"
            )
        self.config = config
        self.normalisation = normalisation
        self.device = device
        self.truth = pixels.detach().to(device)
        self.label_true = torch.as_tensor(labels, device=device).reshape(-1).long()
        batch = self.truth.shape[0]
        if config.label_mode == "idlg" and len(set(self.label_true.tolist())) != batch:
            raise ValueError(
                "iDLG reads a batch's labels off the gradient only when they are distinct, but "
                f"this batch has labels {self.label_true.tolist()}; use label_mode='joint' or "
                "'known'"
            )
        self.inputs = normalisation.to_model_input(self.truth)
        self.defence = defence
        shared = (shared_gradient(model, self.inputs, self.label_true) if defence is None
                  else defence.share(model, self.inputs, self.label_true, seed=config.seed))
        self.num_classes = classifier_gradient(model, shared)[0].shape[0]
        fixed: torch.Tensor | None = None
        if config.label_mode == "known":
            fixed = self.label_true
        elif config.label_mode == "idlg":
            fixed = torch.tensor(idlg_labels(model, shared, batch), device=device)
        self.objective = _Objective(model, shared, fixed, config)
        self.bounds = normalisation.input_bounds(self.inputs)
        self.history: list[StepRecord] = []
        self.attempts: list[Attempt] = []
        self.snapshots: dict[int, torch.Tensor] = {}
        self.step = 0
        self.elapsed = 0.0  # seconds spent in run() so far, over all sessions
        self.finished = False
        self._best: tuple[float, torch.Tensor, list[int]] | None = None  # distance, input, labels
        self._attempt: _AttemptState | None = None
        self._clock_start = 0.0

    # -- running -----------------------------------------------------------------------------

    def run(self, max_steps: int | None = None, checkpoint: str | Path | None = None,
            checkpoint_every: int = 10) -> AttackResult:
        """Continue the attack until it finishes, or for at most ``max_steps`` more steps.

        Args:
            max_steps: pause after this many steps (None: run to the end).
            checkpoint: save the attack here every ``checkpoint_every`` steps and when pausing
                or finishing, so that an interrupted run loses at most that many steps.
            checkpoint_every: steps between checkpoints.

        Returns:
            The result so far (complete when :attr:`finished`).
        """
        self._clock_start = time.perf_counter() - self.elapsed
        # A text bar (not a widget): it updates in place in a terminal and in a notebook, and
        # what a notebook stores is its final state rather than a widget's stale first frame.
        bar = tqdm(total=self.config.steps, initial=self.step, disable=not self.config.progress,
                   desc=self.config.name, unit="step", mininterval=1.0)
        taken = 0
        try:
            while not self.finished and (max_steps is None or taken < max_steps):
                if self._attempt is None:
                    self._start_attempt()
                status = self._take_step()
                taken += 1
                bar.update(1)
                bar.set_postfix(distance=f"{self.history[-1].grad_distance:.2e}",
                                mse=f"{self.history[-1].mse:.2e}", refresh=False)
                if status is None and self.step >= self.config.steps:
                    status = "budget"
                if status is not None:
                    self._end_attempt(status)
                if checkpoint is not None and checkpoint_every and taken % checkpoint_every == 0:
                    self._pause_clock()
                    self.save(checkpoint)
        finally:
            bar.close()
            self._pause_clock()
        if checkpoint is not None:
            self.save(checkpoint)
        if self.finished and all(a.status == "diverged" for a in self.attempts):
            warnings.warn(
                f"every one of the {len(self.attempts)} attempts diverged; the result is the best "
                "point seen before that. Lower lr, allow more restarts, or check that the model's "
                "activations are smooth (Sigmoid, not ReLU)", AttackDivergedWarning, stacklevel=2)
        return self.result()

    def _pause_clock(self) -> None:
        self.elapsed = time.perf_counter() - self._clock_start

    def _start_attempt(self) -> None:
        index = len(self.attempts)
        seed = _attempt_seed(self.config.seed, index)
        generator = torch.Generator().manual_seed(seed)
        dummy = torch.randn(self.inputs.shape, generator=generator).to(self.device)
        label_logits = torch.randn((self.truth.shape[0], self.num_classes),
                                   generator=generator).to(self.device)
        dummy.requires_grad_(True)
        label_logits.requires_grad_(self.objective.fixed_labels is None)
        self.objective.forget_best()
        self._attempt = _AttemptState(index, seed, dummy, label_logits,
                                      self._optimiser(dummy, label_logits),
                                      first_step=self.step)

    def _optimiser(self, dummy: torch.Tensor, label_logits: torch.Tensor
                   ) -> torch.optim.Optimizer:
        variables = [dummy] + ([label_logits] if label_logits.requires_grad else [])
        if self.config.optimiser == "adam":
            return torch.optim.Adam(variables, lr=self.config.lr)
        return torch.optim.LBFGS(variables, lr=self.config.lr,
                                 history_size=self.config.history_size,
                                 max_iter=self.config.max_iter)

    def _trial_steps(self) -> int:
        """Steps each trial may take (the last one also gets the remainder)."""
        return self.config.steps // self.config.trials

    def _learning_rate(self, attempt: _AttemptState) -> float:
        """The step size now: ``lr``, divided by 10 at each decay milestone passed so far."""
        if not self.config.lr_decay:
            return self.config.lr
        progress = (self.step - attempt.first_step) / self._trial_steps()
        return self.config.lr * 0.1 ** sum(progress >= m for m in LR_DECAY_MILESTONES)

    def _current(self) -> tuple[torch.Tensor, list[int]]:
        attempt = self._attempt
        return (self.normalisation.to_pixels(attempt.dummy.detach()),
                self.objective.predicted_labels(attempt.label_logits))

    def _record(self, distance: float, image: torch.Tensor, labels: list[int]) -> None:
        self.history.append(StepRecord(
            step=self.step, attempt=self._attempt.index, grad_distance=distance,
            mse=mse(image, self.truth), label_pred=labels,
            evaluations=self.objective.evaluations,
            seconds=time.perf_counter() - self._clock_start,
            aligned_mse=aligned_mse(image, self.truth)))
        if self.config.snapshot_every and self.step % self.config.snapshot_every == 0:
            self.snapshots[self.step] = image.cpu()

    def _take_step(self) -> Status | None:
        """One optimiser step; returns how the attempt ended, or None while it goes on."""
        attempt, config, objective = self._attempt, self.config, self.objective
        distances: list[float] = []

        def closure() -> torch.Tensor:
            attempt.optimizer.zero_grad()
            value, distance = objective.evaluate(attempt.dummy, attempt.label_logits,
                                                 create_graph=True)
            distances.append(distance)
            value.backward()
            if config.signed:
                attempt.dummy.grad.sign_()
            return value

        # The step's first evaluation is at the current point, so its distance describes the
        # point as it was before the step moved it.
        image, labels = self._current()
        for group in attempt.optimizer.param_groups:
            group["lr"] = self._learning_rate(attempt)
        attempt.optimizer.step(closure)
        distance = distances[0]
        dummy = attempt.dummy
        if config.boxed:
            with torch.no_grad():
                dummy.copy_(torch.maximum(torch.minimum(dummy, self.bounds[1]), self.bounds[0]))
        attempt.initial = distance if attempt.initial is None else attempt.initial
        self._record(distance, image, labels)
        self.step += 1
        attempt.best_so_far.append(objective.best_distance)
        if (not math.isfinite(distance) or distance > config.divergence_factor * attempt.initial
                or not torch.isfinite(dummy).all() or dummy.abs().max() > config.max_pixel):
            return "diverged"
        if objective.best_distance <= config.match_ratio * attempt.initial:
            return "matched"
        if _plateaued(attempt.best_so_far, config.patience, config.plateau_tolerance):
            good = objective.best_distance <= config.restart_ratio * attempt.initial
            return "plateaued" if good else "stalled"
        last_trial = attempt.index + 1 >= config.trials
        if not last_trial and self.step - attempt.first_step >= self._trial_steps():
            return "budget"
        return None

    def _end_attempt(self, status: Status) -> None:
        attempt, objective = self._attempt, self.objective
        if status != "diverged":
            with torch.enable_grad():
                _, final = objective.evaluate(attempt.dummy, attempt.label_logits,
                                              create_graph=False)
            self._record(final, *self._current())
        self.attempts.append(Attempt(seed=attempt.seed, status=status, steps=self.step,
                                     best_distance=objective.best_distance))
        if objective.best_input is not None and (self._best is None
                                                 or objective.best_distance < self._best[0]):
            self._best = (objective.best_distance, objective.best_input, objective.best_labels)
        self._attempt = None
        completed = sum(a.status in ("plateaued", "budget") for a in self.attempts)
        failed = sum(a.status in ("stalled", "diverged") for a in self.attempts)
        self.finished = (status == "matched" or completed >= self.config.trials
                         or failed > self.config.restarts or self.step >= self.config.steps)

    # -- results and checkpoints -------------------------------------------------------------

    def result(self) -> AttackResult:
        """The best reconstruction so far, over finished attempts and the current one."""
        candidates = [b for b in (self._best,) if b is not None]
        if self._attempt is not None and self.objective.best_input is not None:
            candidates.append((self.objective.best_distance, self.objective.best_input,
                               self.objective.best_labels))
        if not candidates:
            raise RuntimeError(
                "no finite gradient distance was seen yet: run more steps; if every attempt "
                "diverges, lower lr, allow more restarts, or check that the model's activations "
                "are smooth (Sigmoid)"
            )
        _, best_input, best_labels = min(candidates, key=lambda c: c[0])
        attempts = list(self.attempts)
        if self._attempt is not None:  # an unfinished attempt, shown as still running
            attempts.append(Attempt(seed=self._attempt.seed, status="budget", steps=self.step,
                                    best_distance=self.objective.best_distance))
        return AttackResult(
            reconstruction=self.normalisation.to_pixels(best_input).cpu(),
            truth=self.truth.cpu(),
            label_true=self.label_true.tolist(),
            label_pred=best_labels,
            history=list(self.history),
            attempts=attempts,
            snapshots=dict(self.snapshots),
            config=self.config,
            defence=self._defence_text(),
        )

    def _defence_text(self) -> str | None:
        return None if self.defence is None else self.defence.text()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this attack exactly where it stands."""
        attempt = self._attempt
        return {
            "config": asdict(replace(self.config, progress=True)),
            "defence": self._defence_text(),
            "truth": self.truth.cpu(),
            "label_true": self.label_true.cpu(),
            "step": self.step,
            "elapsed": self.elapsed,
            "finished": self.finished,
            "history": [asdict(r) for r in self.history],
            "attempts": [asdict(a) for a in self.attempts],
            "snapshots": self.snapshots,
            "best": None if self._best is None else (self._best[0], self._best[1].cpu(),
                                                       self._best[2]),
            "objective": self.objective.state_dict(),
            "attempt": None if attempt is None else {
                "index": attempt.index, "seed": attempt.seed,
                "dummy": attempt.dummy.detach().cpu(),
                "label_logits": attempt.label_logits.detach().cpu(),
                "optimizer": attempt.optimizer.state_dict(),
                "initial": attempt.initial, "best_so_far": attempt.best_so_far,
                "first_step": attempt.first_step,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` of an attack with the same settings and images.

        Raises:
            ValueError: when the state belongs to other settings or other private images.
        """
        ours = asdict(replace(self.config, progress=True))
        theirs = config_dict(state["config"])
        if theirs != ours:
            changed = sorted(k for k in ours if theirs.get(k) != ours[k])
            raise ValueError(
                f"the checkpoint was made with other settings ({', '.join(changed)} differ); "
                "resume with the checkpoint's settings or delete the checkpoint to start afresh"
            )
        if state.get("defence") != self._defence_text():
            raise ValueError(
                f"the checkpoint was made against the defence {state.get('defence')}, not "
                f"{self._defence_text()}; resume with the same defence or delete the checkpoint "
                "to start afresh"
            )
        if not (torch.equal(state["truth"], self.truth.cpu())
                and torch.equal(state["label_true"], self.label_true.cpu())):
            raise ValueError(
                "the checkpoint was made for other private images or labels; resume with the "
                "same image, size and label, or delete the checkpoint to start afresh"
            )
        self.step, self.elapsed, self.finished = state["step"], state["elapsed"], state["finished"]
        self.history = [StepRecord(**r) for r in state["history"]]
        self.attempts = [Attempt(**a) for a in state["attempts"]]
        self.snapshots = dict(state["snapshots"])
        best = state["best"]
        self._best = None if best is None else (best[0], best[1].to(self.device), best[2])
        self.objective.load_state_dict(state["objective"], self.device)
        self._attempt = None
        saved = state["attempt"]
        if saved is not None:
            self._start_attempt_from(saved)

    def _start_attempt_from(self, saved: dict[str, Any]) -> None:
        dummy = saved["dummy"].to(self.device).requires_grad_(True)
        label_logits = saved["label_logits"].to(self.device)
        label_logits.requires_grad_(self.objective.fixed_labels is None)
        optimizer = self._optimiser(dummy, label_logits)
        optimizer.load_state_dict(saved["optimizer"])
        self._attempt = _AttemptState(saved["index"], saved["seed"], dummy, label_logits,
                                      optimizer, saved["initial"], list(saved["best_so_far"]),
                                      saved.get("first_step", 0))

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint atomically (a crash mid-write leaves the previous one intact)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        torch.save(self.state_dict(), partial)
        partial.replace(path)
        return path

    @classmethod
    def resume(cls, path: str | Path, model: nn.Module, pixels: torch.Tensor,
               labels: torch.Tensor | list[int] | int, config: AttackConfig = AttackConfig(),
               normalisation: Normalisation = Normalisation(),
               defence: Defence | None = None) -> Attack:
        """An attack continued from the checkpoint at ``path`` (same model, images, settings,
        defence).

        Raises:
            FileNotFoundError: when there is no checkpoint at ``path``.
            ValueError: when it is corrupt, or belongs to other settings or images.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}; start a new Attack instead")
        attack = cls(model, pixels, labels, config, normalisation, defence)
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # pickle, zip and EOF errors all mean the same to a user
            raise ValueError(
                f"the checkpoint {path} cannot be read ({error}); it is corrupt: delete it and "
                "start afresh"
            ) from error
        attack.load_state_dict(state)
        return attack


def config_dict(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored configuration as :func:`dataclasses.asdict` gives it today.

    Settings added since the configuration was stored take their defaults (which reproduce what
    the code did before they existed), so older checkpoints and records stay usable. A record
    stored before attacks were named by the registry was filed by its optimiser (Adam:
    inverting gradients), and is read so.
    """
    named = {"attack": "inverting-gradients" if stored.get("optimiser") == "adam"
             else DEFAULT_ATTACK}
    return {**asdict(AttackConfig()), **named, **stored, "progress": True}


def reconstruct(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor | list[int] | int,
                config: AttackConfig = AttackConfig(),
                normalisation: Normalisation = Normalisation(),
                defence: Defence | None = None) -> AttackResult:
    """Reconstruct a private batch from the gradient it produces on ``model``.

    The arguments are those of :class:`Attack`; this runs it to the end.

    Returns:
        An :class:`AttackResult` with the best reconstruction, its label, and the history.
    """
    return Attack(model, pixels, labels, config, normalisation, defence).run()
