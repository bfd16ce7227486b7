"""The DLG reconstruction: find an image (and label) whose gradient matches the shared one.

The optimiser is the paper's: L-BFGS with learning rate 1, history 100 and 20 iterations per step
on the squared gradient distance, from a dummy image drawn from N(0, 1). Around it, the engine adds
what the original loop lacks, using only what an attacker can see (the gradient distance, never
the private image): it stops when the distance has fallen far enough or stopped falling, it notices
divergence, it keeps the best iterate, and it restarts from a new random start when an attempt
fails, all within one budget of L-BFGS steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .gradients import gradient_distance, idlg_label, shared_gradient
from .metrics import mse
from .models import Normalisation

__all__ = ["AttackConfig", "StepRecord", "Attempt", "AttackResult", "reconstruct"]

LabelMode = Literal["joint", "idlg", "known"]
Status = Literal["matched", "plateaued", "stalled", "diverged", "budget"]
LABEL_MODES: tuple[str, ...] = ("joint", "idlg", "known")


@dataclass(frozen=True)
class AttackConfig:
    """Every knob of the attack; the defaults are the report's setting.

    Attributes:
        steps: L-BFGS steps in all, shared by all attempts (the report ran 300).
        lr, history_size, max_iter: ``torch.optim.LBFGS`` settings (report: 1, 100, 20).
        label_mode: ``"joint"`` optimises a soft label with the image (DLG); ``"idlg"`` reads the
            label off the classifier's gradient first (iDLG, batch of one); ``"known"`` gives the
            attacker the true label.
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
    progress: bool = True

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


@dataclass(frozen=True)
class StepRecord:
    """The state after ``step`` L-BFGS steps in all (attempt ``attempt``)."""

    step: int
    attempt: int
    grad_distance: float
    mse: float
    label_pred: list[int]
    evaluations: int
    seconds: float


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
        return self.label_pred == self.label_true

    @property
    def steps(self) -> int:
        return self.history[-1].step

    @property
    def evaluations(self) -> int:
        return self.history[-1].evaluations

    @property
    def wall_seconds(self) -> float:
        return self.history[-1].seconds

    def first_step_below(self, threshold: float) -> int | None:
        """The first step whose image MSE is below ``threshold``, or None."""
        return next((r.step for r in self.history if r.mse < threshold), None)

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
    """The DLG objective with a counter and a memory of the best point it has seen."""

    def __init__(self, model: nn.Module, shared: list[torch.Tensor],
                 fixed_labels: torch.Tensor | None) -> None:
        self.model = model
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.shared = shared
        self.fixed_labels = fixed_labels
        self.evaluations = 0
        self.best_distance = math.inf
        self.best_input: torch.Tensor | None = None
        self.best_labels: list[int] = []

    def soft_labels(self, label_logits: torch.Tensor) -> torch.Tensor:
        if self.fixed_labels is not None:
            return F.one_hot(self.fixed_labels, label_logits.shape[-1]).float()
        return F.softmax(label_logits, dim=-1)

    def distance(self, dummy: torch.Tensor, label_logits: torch.Tensor,
                 create_graph: bool) -> torch.Tensor:
        self.evaluations += 1
        loss = F.cross_entropy(self.model(dummy), self.soft_labels(label_logits))
        grads = torch.autograd.grad(loss, self.parameters, create_graph=create_graph)
        value = gradient_distance(list(grads), self.shared)
        scalar = float(value.detach())
        if scalar < self.best_distance:  # False for NaN, so a diverged point is never kept
            self.best_distance = scalar
            self.best_input = dummy.detach().clone()
            self.best_labels = self.predicted_labels(label_logits)
        return value

    def predicted_labels(self, label_logits: torch.Tensor) -> list[int]:
        if self.fixed_labels is not None:
            return self.fixed_labels.tolist()
        return label_logits.detach().argmax(dim=-1).tolist()


def _plateaued(best_so_far: list[float], patience: int, tolerance: float) -> bool:
    if patience == 0 or len(best_so_far) <= patience:
        return False
    before, now = best_so_far[-1 - patience], best_so_far[-1]
    return before - now < tolerance * before


def reconstruct(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor | list[int] | int,
                config: AttackConfig = AttackConfig(),
                normalisation: Normalisation = Normalisation()) -> AttackResult:
    """Reconstruct a private batch from the gradient it produces on ``model``.

    Args:
        model: the shared model (train or eval mode as the victim uses it); its device is used.
        pixels: the private images in [0, 1], shape (B, 3, H, W). They produce the shared
            gradient and are used only to *measure* the reconstruction, never to steer it.
        labels: their class indices.
        config: the attack's settings.
        normalisation: how pixels become model input (the model's ``ModelSpec.normalisation``).

    Returns:
        An :class:`AttackResult` with the best reconstruction, its label, and the history.
    """
    device = next(model.parameters()).device
    if pixels.dim() != 4 or pixels.shape[1] != 3:
        raise ValueError(
            f"pixels must have shape (B, 3, H, W), got {tuple(pixels.shape)}; "
            "use dlg_helpers.load_image(...).pixels"
        )
    if pixels.min() < 0 or pixels.max() > 1:
        raise ValueError(
            f"pixels must lie in [0, 1], got [{float(pixels.min()):.3g}, "
            f"{float(pixels.max()):.3g}]; pass unnormalised images and the model's normalisation"
        )
    truth = pixels.detach().to(device)
    label_tensor = torch.as_tensor(labels, device=device).reshape(-1).long()
    batch = truth.shape[0]
    if config.label_mode == "idlg" and batch != 1:
        raise ValueError(
            f"iDLG reads the label of a single image, but the batch has {batch}; "
            "use label_mode='joint' or 'known' for batches"
        )
    inputs = normalisation.to_model_input(truth)
    shared = shared_gradient(model, inputs, label_tensor)
    num_classes = model(inputs[:1]).shape[-1]
    if config.label_mode == "known":
        fixed: torch.Tensor | None = label_tensor
    elif config.label_mode == "idlg":
        fixed = torch.tensor([idlg_label(model, shared)], device=device)
    else:
        fixed = None

    objective = _Objective(model, shared, fixed)
    history: list[StepRecord] = []
    attempts: list[Attempt] = []
    snapshots: dict[int, torch.Tensor] = {}
    start = time.perf_counter()
    step = 0
    best: tuple[float, torch.Tensor, list[int]] | None = None  # distance, model input, labels
    # A text bar (not a widget): it updates in place in a terminal and in a notebook, and what a
    # notebook stores is its final state rather than a widget's stale first frame.
    bar = tqdm(total=config.steps, disable=not config.progress, desc="DLG", unit="step",
               mininterval=1.0)

    def record(attempt: int, distance: float, image: torch.Tensor, labels: list[int]) -> None:
        history.append(StepRecord(
            step=step, attempt=attempt, grad_distance=distance, mse=mse(image, truth),
            label_pred=labels, evaluations=objective.evaluations,
            seconds=time.perf_counter() - start))
        if config.snapshot_every and step % config.snapshot_every == 0:
            snapshots[step] = image.cpu()
        bar.set_postfix(distance=f"{distance:.2e}", mse=f"{history[-1].mse:.2e}", refresh=False)

    def current(dummy: torch.Tensor, label_logits: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        return normalisation.to_pixels(dummy.detach()), objective.predicted_labels(label_logits)

    for attempt in range(config.restarts + 1):
        if step >= config.steps:
            break
        attempt_seed = _attempt_seed(config.seed, attempt)
        generator = torch.Generator().manual_seed(attempt_seed)
        dummy = torch.randn(inputs.shape, generator=generator).to(device).requires_grad_(True)
        label_logits = torch.randn((batch, num_classes), generator=generator).to(device)
        label_logits.requires_grad_(fixed is None)
        variables = [dummy] + ([label_logits] if fixed is None else [])
        optimizer = torch.optim.LBFGS(variables, lr=config.lr, history_size=config.history_size,
                                      max_iter=config.max_iter)
        objective.best_distance, objective.best_input = math.inf, None

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            value = objective.distance(dummy, label_logits, create_graph=True)
            value.backward()
            return value

        initial: float | None = None
        best_so_far: list[float] = []
        status: Status = "budget"
        while step < config.steps:
            # The step's first evaluation is at the current point, so its value describes the
            # point as it was before the step moved it.
            image, labels = current(dummy, label_logits)
            distance = float(optimizer.step(closure).detach())
            initial = distance if initial is None else initial
            record(attempt, distance, image, labels)
            step += 1
            bar.update(1)
            best_so_far.append(objective.best_distance)
            if (not math.isfinite(distance) or distance > config.divergence_factor * initial
                    or not torch.isfinite(dummy).all() or dummy.abs().max() > config.max_pixel):
                status = "diverged"
                break
            if objective.best_distance <= config.match_ratio * initial:
                status = "matched"
                break
            if _plateaued(best_so_far, config.patience, config.plateau_tolerance):
                good = objective.best_distance <= config.restart_ratio * initial
                status = "plateaued" if good else "stalled"
                break
        if status != "diverged":
            with torch.enable_grad():
                final = float(objective.distance(dummy, label_logits, create_graph=False))
            record(attempt, final, *current(dummy, label_logits))
        attempts.append(Attempt(seed=attempt_seed, status=status, steps=step,
                                best_distance=objective.best_distance))
        if objective.best_input is not None and (best is None or objective.best_distance < best[0]):
            best = (objective.best_distance, objective.best_input, objective.best_labels)
        if status in ("matched", "plateaued", "budget"):
            break
    bar.close()

    if best is None:
        raise RuntimeError(
            "every attempt diverged before a finite gradient distance was seen; lower lr, "
            "give more restarts, or check that the model's activations are smooth (Sigmoid)"
        )
    return AttackResult(
        reconstruction=normalisation.to_pixels(best[1]).cpu(),
        truth=truth.cpu(),
        label_true=label_tensor.tolist(),
        label_pred=best[2],
        history=history,
        attempts=attempts,
        snapshots=snapshots,
        config=config,
    )
