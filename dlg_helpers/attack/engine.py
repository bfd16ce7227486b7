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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..client.defences import Defence
from ..client.models import Normalisation
from ..client.victim import SharedUpdate, Victim
from .config import LR_DECAY_MILESTONES, AttackConfig, Status, config_dict
from .labels import classifier_gradient, idlg_labels, require_readable_labels
from .objective import _Objective
from .observer import Observer
from .trace import AttackResult, Attempt, StepRecord

__all__ = ["AttackDivergedWarning", "Attack", "reconstruct", "attempt_seed", "random_start",
           "trial_steps", "learning_rate", "status_after_step", "attack_finished"]


class AttackDivergedWarning(UserWarning):
    """Every attempt of an attack diverged."""


def attempt_seed(seed: int, attempt: int) -> int:
    """The seed of random start ``attempt`` (0: the configured ``seed`` itself)."""
    if attempt == 0:
        return seed
    return int(np.random.SeedSequence([seed, attempt]).generate_state(1)[0])


def random_start(seed: int, input_shape: tuple[int, ...], num_classes: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The dummy input and label logits a random start begins from, both drawn from N(0, 1)
    with ``seed`` (the input first, so that a run's image does not depend on its label mode)."""
    generator = torch.Generator().manual_seed(seed)
    dummy = torch.randn(input_shape, generator=generator)
    return dummy, torch.randn((input_shape[0], num_classes), generator=generator)


def _plateaued(best_so_far: list[float], patience: int, tolerance: float) -> bool:
    if patience == 0 or len(best_so_far) <= patience:
        return False
    before, now = best_so_far[-1 - patience], best_so_far[-1]
    return before - now < tolerance * before


def trial_steps(config: AttackConfig) -> int:
    """Steps each trial may take (the last one also gets the remainder)."""
    return config.steps // config.trials


def learning_rate(config: AttackConfig, steps_into_attempt: int) -> float:
    """The step size ``steps_into_attempt`` steps into an attempt: ``lr``, divided by 10 at each
    decay milestone passed so far."""
    if not config.lr_decay:
        return config.lr
    progress = steps_into_attempt / trial_steps(config)
    return config.lr * 0.1 ** sum(progress >= m for m in LR_DECAY_MILESTONES)


def status_after_step(config: AttackConfig, *, distance: float, initial: float,
                      best_so_far: list[float], largest_input: float, attempt: int,
                      steps_into_attempt: int) -> Status | None:
    """How an attempt ends after a step, judged only by what the attacker sees, or None while
    it goes on.

    Args:
        distance: the gradient distance at the start of the step just taken.
        initial: the attempt's first distance.
        best_so_far: the attempt's best distance after each of its steps, the last one included.
        largest_input: the largest magnitude in the dummy input now (NaN or inf when it is not
            finite).
        attempt: the attempt's index (0 for the first random start).
        steps_into_attempt: steps the attempt has taken.
    """
    if (not math.isfinite(distance) or distance > config.divergence_factor * initial
            or not math.isfinite(largest_input) or largest_input > config.max_pixel):
        return "diverged"
    if best_so_far[-1] <= config.match_ratio * initial:
        return "matched"
    if _plateaued(best_so_far, config.patience, config.plateau_tolerance):
        good = best_so_far[-1] <= config.restart_ratio * initial
        return "plateaued" if good else "stalled"
    last_trial = attempt + 1 >= config.trials
    if not last_trial and steps_into_attempt >= trial_steps(config):
        return "budget"
    return None


def attack_finished(config: AttackConfig, statuses: list[Status], steps: int) -> bool:
    """Whether an attack whose attempts ended with ``statuses`` (the last one just now) after
    ``steps`` steps in all is over: it matched, completed its trials, ran out of restarts or of
    budget."""
    completed = sum(s in ("plateaued", "budget") for s in statuses)
    failed = sum(s in ("stalled", "diverged") for s in statuses)
    return (statuses[-1] == "matched" or completed >= config.trials
            or failed > config.restarts or steps >= config.steps)


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
    """A gradient-matching reconstruction that runs step by step, and can be checkpointed and
    resumed.

    The attack holds what a curious server holds: the shared model, the update a client sent
    and the protocol's public facts. The private batch stays with the victim; the reconstruction
    is measured through the victim's ``observer``, whose numbers go into the trace and never
    steer the attack.

    ``Attack(...).run()`` runs it to the end (:func:`reconstruct` sets everything up from a
    private batch). ``run(max_steps=k)`` pauses after ``k`` more steps; :meth:`save` writes
    everything needed to continue (the optimiser's state, history, snapshots, the best iterate,
    clocks and counters) and :meth:`resume` picks it up again, giving the same history as a run
    that was never interrupted.

    Args:
        model: the shared model (train or eval mode as the victim uses it); its device is used.
        update: the client's update (:meth:`~dlg_helpers.client.victim.Victim.share`).
        config: the attack's settings.
        normalisation: how pixels become model input (the model's ``ModelSpec.normalisation``).
        observer: the private batch as the metrics see it
            (:meth:`~dlg_helpers.client.victim.Victim.ground_truth`).
        known_labels: the true labels, for ``label_mode="known"`` only (a stronger attacker,
            told them).
        structured: match linear layers' weight gradients through their factors, never
            forming them (:mod:`~dlg_helpers.attack.structured`; the same distance up to float
            rounding, and faster); False forms every gradient, as the original code did.
    """

    def __init__(self, model: nn.Module, update: SharedUpdate,
                 config: AttackConfig = AttackConfig(),
                 normalisation: Normalisation = Normalisation(), *,
                 observer: Observer,
                 known_labels: torch.Tensor | list[int] | None = None,
                 structured: bool = True) -> None:
        device = next(model.parameters()).device
        self.config = config
        self.normalisation = normalisation
        self.device = device
        self.update = update
        self.observer = observer
        shared = update.gradient
        self.num_classes = classifier_gradient(model, shared)[0].shape[0]
        fixed: torch.Tensor | None = None
        if config.label_mode == "known":
            if known_labels is None:
                raise ValueError("label_mode='known' gives the attacker the true labels: pass "
                                 "known_labels, or use 'joint' or 'idlg'")
            fixed = torch.as_tensor(known_labels, device=device).reshape(-1).long()
        elif config.label_mode == "idlg":
            fixed = torch.tensor(idlg_labels(model, shared, update.examples), device=device)
        self.objective = _Objective(model, shared, fixed, config, update.local_steps,
                                    input_shape=update.input_shape, structured=structured)
        self.bounds = normalisation.input_bounds(torch.empty(update.input_shape, device=device))
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
        seed = attempt_seed(self.config.seed, index)
        dummy, label_logits = random_start(seed, self.update.input_shape, self.num_classes)
        dummy, label_logits = dummy.to(self.device), label_logits.to(self.device)
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
                                 max_iter=self.config.max_iter,
                                 line_search_fn=self.config.line_search)

    def _current(self) -> tuple[torch.Tensor, list[int]]:
        attempt = self._attempt
        return (self.normalisation.to_pixels(attempt.dummy.detach()),
                self.objective.predicted_labels(attempt.label_logits))

    def _record(self, distance: float, image: torch.Tensor, labels: list[int]) -> None:
        error, aligned_error = self.observer.measure(image)
        self.history.append(StepRecord(
            step=self.step, attempt=self._attempt.index, grad_distance=distance,
            mse=error, label_pred=labels, evaluations=self.objective.evaluations,
            seconds=time.perf_counter() - self._clock_start, aligned_mse=aligned_error))
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
            group["lr"] = learning_rate(config, self.step - attempt.first_step)
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
        return status_after_step(
            config, distance=distance, initial=attempt.initial, best_so_far=attempt.best_so_far,
            largest_input=float(dummy.detach().abs().max()), attempt=attempt.index,
            steps_into_attempt=self.step - attempt.first_step)

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
        self.finished = attack_finished(self.config, [a.status for a in self.attempts], self.step)

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
        return self.observer.result(
            reconstruction=self.normalisation.to_pixels(best_input).cpu(),
            label_pred=best_labels,
            history=list(self.history),
            attempts=attempts,
            snapshots=dict(self.snapshots),
            config=self.config,
            defence=self.update.defence,
        )

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this attack exactly where it stands."""
        attempt = self._attempt
        return {
            "config": asdict(replace(self.config, progress=True)),
            "defence": self.update.defence,
            **self.observer.state(),
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
        if state.get("defence") != self.update.defence:
            raise ValueError(
                f"the checkpoint was made against the defence {state.get('defence')}, not "
                f"{self.update.defence}; resume with the same defence or delete the checkpoint "
                "to start afresh"
            )
        if not self.observer.matches(state):
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
    def against(cls, victim: Victim, config: AttackConfig = AttackConfig(), *,
                structured: bool = True) -> Attack:
        """The attack on the update ``victim`` shares, measured against its private batch
        (told its labels only for ``label_mode="known"``; ``structured`` as for the class).

        Raises:
            ValueError: for iDLG on a batch whose labels repeat (it reads distinct labels only).
        """
        require_readable_labels(victim.labels.tolist(), config.label_mode)
        return cls(victim.model, victim.share(), config, victim.normalisation,
                   observer=victim.ground_truth(),
                   known_labels=victim.labels if config.label_mode == "known" else None,
                   structured=structured)

    @classmethod
    def resume(cls, path: str | Path, victim: Victim,
               config: AttackConfig = AttackConfig()) -> Attack:
        """The attack on ``victim`` continued from the checkpoint at ``path`` (same model,
        images, settings, defence).

        Raises:
            FileNotFoundError: when there is no checkpoint at ``path``.
            ValueError: when it is corrupt, or belongs to other settings or images.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}; start a new Attack instead")
        attack = cls.against(victim, config)
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # pickle, zip and EOF errors all mean the same to a user
            raise ValueError(
                f"the checkpoint {path} cannot be read ({error}); it is corrupt: delete it and "
                "start afresh"
            ) from error
        attack.load_state_dict(state)
        return attack


def reconstruct(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor | list[int] | int,
                config: AttackConfig = AttackConfig(),
                normalisation: Normalisation = Normalisation(),
                defence: Defence | None = None) -> AttackResult:
    """Reconstruct a private batch from the gradient it produces on ``model``.

    A :class:`~dlg_helpers.client.victim.Victim` holds ``pixels`` and ``labels`` and shares its
    gradient (defended by ``defence``, its noise seeded with ``config.seed``); an
    :class:`Attack` runs on that update to the end.

    Returns:
        An :class:`AttackResult` with the best reconstruction, its label, and the history.
    """
    victim = Victim(model, pixels, labels, normalisation, defence, noise_seed=config.seed)
    return Attack.against(victim, config).run()
