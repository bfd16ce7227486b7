"""Many attacks in one computation: K independent reconstructions advanced together.

One LeNet evaluation of the matching objective is a few milliseconds of small operations, so an
attack run alone spends most of its time in overhead rather than arithmetic. Here the K attacks'
objectives are one batched computation (``torch.func.vmap`` over ``grad`` of each attack's
objective, which itself contains the gradient of the model's loss), and their optimisers are
batched too (:mod:`~dlg_helpers.attack.batched_optim`: an L-BFGS history, step and stopping per
attack, or Adam's moments per attack).

Each attack behaves as if it ran alone in :class:`~dlg_helpers.attack.engine.Attack`: the same
random start from its seed, the same optimiser steps, the same rules for stopping, diverging,
restarting and keeping the best iterate (the engine's :func:`status_after_step` and
:func:`attack_finished` decide for both), and the same :class:`AttackResult` at the end. Only
rounding differs, which L-BFGS can amplify into another trajectory over many steps, as it can
between two machines.

Each attack may have its own image, label, seed, defence and model weights; all must share the
model's architecture and the input shape. Models whose forward pass changes state or draws
random numbers in training mode (batch norm, dropout) cannot be batched this way; attack those
one at a time.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, grad_and_value, vmap
from tqdm import tqdm

from ..client.gradients import classification_loss
from ..client.models import Normalisation
from ..client.victim import Victim
from ..devices import keep_freed_memory
from .batched_optim import BatchedAdam, BatchedLBFGS
from .config import AttackConfig, Status
from .engine import (AttackDivergedWarning, attack_finished, attempt_seed, learning_rate,
                     random_start, status_after_step)
from .labels import classifier_gradient, idlg_labels, require_readable_labels
from .objective import DISTANCES, total_variation
from .observer import Observer
from .structured import LinearTaps, target_terms
from .trace import AttackResult, Attempt, StepRecord

__all__ = ["BatchedAttack", "reconstruct_many"]


@dataclass
class _Bookkeeping:
    """What one attack of the batch keeps between steps (the engine's attempt state)."""

    seed: int
    observer: Observer
    defence: str | None
    step: int = 0
    evaluations: int = 0
    attempt_seed: int = 0
    first_step: int = 0
    initial: float | None = None
    best_so_far: list[float] = field(default_factory=list)
    history: list[StepRecord] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)
    best: tuple[float, torch.Tensor, list[int]] | None = None  # over finished attempts
    running: bool = False  # an attempt is under way
    finished: bool = False


def _stateful_layers(model: nn.Module) -> list[str]:
    return [type(m).__name__ for m in model.modules() if m.training and isinstance(
        m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd))]


class BatchedAttack:
    """K gradient-matching attacks on K victims' updates, advanced in one batched computation.

    Args:
        victims: the clients whose updates are attacked, one attack each. Their models must
            share one architecture (and mode); they may share one model object (one set of
            weights, sent once) or each have their own weights.
        config: the attack's settings, shared by all; each attack's random start comes from its
            own seed.
        seeds: each attack's seed (None: ``config.seed`` for all).
        structured: match linear layers' weight gradients through their factors, never forming
            them (:mod:`~dlg_helpers.attack.structured`), as
            :class:`~dlg_helpers.attack.engine.Attack` does.

    Raises:
        ValueError: for victims whose inputs differ in shape, whose models differ in
            architecture, a model with batch norm or dropout in training mode, or iDLG on a
            batch whose labels repeat.
    """

    @staticmethod
    def refusal(model: nn.Module, config: AttackConfig) -> str | None:
        """Why the batched engine cannot take attacks on ``model`` with ``config`` (with the
        fix), or None when it can: batch norm or dropout in training mode carry state or
        randomness across the batch, and a line search or a decaying L-BFGS step would give
        each attack its own number of evaluations per step."""
        stateful = _stateful_layers(model)
        if stateful:
            return (f"the model has {', '.join(sorted(set(stateful)))} in training mode, whose "
                    "state or randomness cannot be batched; attack it one run at a time with "
                    "Attack.against(victim, config)")
        if config.optimiser != "adam" and (config.line_search is not None or config.lr_decay):
            return ("the batched engine takes L-BFGS's fixed step only; run a line search or a "
                    "decaying L-BFGS step one attack at a time with Attack.against")
        return None

    def __init__(self, victims: Sequence[Victim], config: AttackConfig = AttackConfig(),
                 seeds: Sequence[int] | None = None, *, structured: bool = True) -> None:
        if not victims:
            raise ValueError("give at least one victim to attack")
        seeds = [config.seed] * len(victims) if seeds is None else list(seeds)
        if len(seeds) != len(victims):
            raise ValueError(f"{len(seeds)} seeds for {len(victims)} victims: give one each")
        model = victims[0].model
        reason = self.refusal(model, config)
        if reason is not None:
            raise ValueError(reason)
        keep_freed_memory()  # the batch's large temporaries reuse freed pages
        updates = [victim.share() for victim in victims]
        shapes = {update.input_shape for update in updates}
        if len(shapes) > 1:
            raise ValueError(f"the victims' inputs differ in shape ({sorted(shapes)}); batch "
                             "attacks on one model input size and batch size together")
        for victim in victims:
            require_readable_labels(victim.labels.tolist(), config.label_mode)
        self.config, self.model = config, model
        self.normalisation: Normalisation = victims[0].normalisation
        self.device = next(model.parameters()).device
        self.input_shape = updates[0].input_shape
        self.num_classes = classifier_gradient(model, updates[0].gradient)[0].shape[0]
        names = [name for name, p in model.named_parameters() if p.requires_grad]
        self.names = names
        self.frozen = {name: p.detach() for name, p in model.named_parameters()
                       if not p.requires_grad}
        self.frozen.update({name: b for name, b in model.named_buffers()})
        # Linear layers' weight gradients are matched through their factors (:mod:`.structured`):
        # their targets are kept as the float64 T and the ‖T‖² that the three sums need.
        self.taps = (LinearTaps(model, torch.zeros(updates[0].input_shape, device=self.device),
                                names) or None) if structured else None
        taken = set(self.taps.weights if self.taps else ())
        self.direct_names = [name for name in names if name not in taken]
        self.targets: dict[str, Any] = {}
        for i, name in enumerate(names):
            stacked = torch.stack([u.gradient[i] for u in updates])
            self.targets[name] = (torch.vmap(target_terms)(stacked) if name in taken
                                  else stacked)
        models = [victim.model for victim in victims]
        self.shared_weights = all(m is model for m in models)
        if self.shared_weights:
            self.weights = {name: p.detach() for name, p in model.named_parameters()
                            if p.requires_grad}
        else:
            try:
                self.weights = {name: torch.stack([dict(m.named_parameters())[name].detach()
                                                   for m in models]) for name in names}
            except (KeyError, RuntimeError) as error:
                raise ValueError("the victims' models differ in architecture; batch attacks "
                                 f"on one architecture together ({error})") from error
        if config.label_mode == "known":
            fixed = torch.stack([victim.labels for victim in victims])
        elif config.label_mode == "idlg":
            fixed = torch.tensor([idlg_labels(model, u.gradient, u.examples) for u in updates])
        else:
            fixed = None
        self.fixed_labels = None if fixed is None else fixed.to(self.device)
        self.fixed_targets = (None if fixed is None else  # one-hot outside vmap, which can't
                              F.one_hot(self.fixed_labels, self.num_classes).float())
        self.image_size = math.prod(self.input_shape)
        self.logits_shape = (self.input_shape[0], self.num_classes)
        self.dim = self.image_size + (math.prod(self.logits_shape) if fixed is None else 0)
        low, high = self.normalisation.input_bounds(
            torch.empty(self.input_shape, device=self.device))
        self.bounds = (low.expand(self.input_shape).flatten(),
                       high.expand(self.input_shape).flatten())
        count = len(victims)
        if config.optimiser == "adam":
            self.optimiser: BatchedLBFGS | BatchedAdam = BatchedAdam(count, self.dim,
                                                                      device=self.device)
        else:
            self.optimiser = BatchedLBFGS(count, self.dim, lr=config.lr,
                                          max_iter=config.max_iter,
                                          history_size=config.history_size, device=self.device)
        self.points = torch.zeros(count, self.dim, device=self.device)
        self.best_distance = torch.full((count,), math.inf, device=self.device)
        self.best_points = torch.zeros(count, self.dim, device=self.device)
        self.attacks = [_Bookkeeping(seed, victim.ground_truth(), update.defence)
                        for seed, victim, update in zip(seeds, victims, updates)]
        self._objective = vmap(grad_and_value(self._matching, argnums=0, has_aux=True),
                               in_dims=(0, None if self.shared_weights else 0, 0,
                                        None if fixed is None else 0))
        self._step_distance = torch.full((count,), math.nan, device=self.device)
        self._evaluated = torch.zeros(count, dtype=torch.bool, device=self.device)

    # -- the objective -----------------------------------------------------------------------

    def _matching(self, point: torch.Tensor, weights: dict[str, torch.Tensor],
                  target: dict[str, Any], fixed: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """One attack's objective at ``point`` (its image, then its label logits when they are
        optimised; ``fixed``: its one-hot labels when they are not), and its gradient distance
        as the auxiliary output."""
        image = point[:self.image_size].view(self.input_shape)
        soft = (F.softmax(point[self.image_size:].view(self.logits_shape), dim=-1)
                if fixed is None else fixed)

        matching = (self._direct_matching if self.taps is None else self._structured_matching)(
            image, soft, weights, target)
        value = matching
        if self.config.tv_weight:
            value = matching + self.config.tv_weight * total_variation(image)
        return value, matching.detach()

    def _direct_matching(self, image: torch.Tensor, soft: torch.Tensor,
                         weights: dict[str, torch.Tensor], target: dict[str, Any]
                         ) -> torch.Tensor:
        """One attack's gradient distance, every parameter's gradient formed."""
        def loss(w: dict[str, torch.Tensor]) -> torch.Tensor:
            return classification_loss(functional_call(self.model, {**w, **self.frozen},
                                                       (image,)), soft)

        gradient = grad(loss)(weights)
        return DISTANCES[self.config.distance]([gradient[n] for n in self.names],
                                               [target[n] for n in self.names])

    def _structured_matching(self, image: torch.Tensor, soft: torch.Tensor,
                             weights: dict[str, torch.Tensor], target: dict[str, Any]
                             ) -> torch.Tensor:
        """One attack's gradient distance with the taken linear layers' weight gradients never
        formed: the gradient at a zero probe added to a layer's output is δ, and the layer's
        input rows come out beside the loss."""
        assert self.taps is not None
        taps = self.taps
        held = {name: weights[name] for name in taps.weights}

        def loss(direct: dict[str, torch.Tensor], probes: dict[str, list[torch.Tensor]]
                 ) -> tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
            with taps.tapped(probes) as caught:
                outputs = functional_call(self.model, {**direct, **held, **self.frozen},
                                          (image,))
            return (classification_loss(outputs, soft),
                    {name: [rows for rows, _ in pairs] for name, pairs in caught.items()})

        (gradient, deltas), inputs = grad(loss, argnums=(0, 1), has_aux=True)(
            {name: weights[name] for name in self.direct_names}, taps.probes(image))
        return DISTANCES[self.config.distance](
            [gradient[n] for n in self.direct_names], [target[n] for n in self.direct_names],
            taps.terms(inputs, deltas, {name: target[name] for name in taps.weights}))

    def _evaluate(self, rows: torch.Tensor, points: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """The objective and its gradient for attacks ``rows`` at ``points``, remembering each
        attack's best point by its gradient distance (what the attacker can measure)."""
        # Every attack in order is the common case: no copy of the large targets then.
        everyone = len(rows) == len(self.attacks)

        def pick(tensor: torch.Tensor) -> torch.Tensor:
            return tensor if everyone else tensor[rows]

        weights = self.weights if self.shared_weights else {
            name: pick(w) for name, w in self.weights.items()}
        targets = {name: pick(t) if isinstance(t, torch.Tensor) else (pick(t[0]), pick(t[1]))
                   for name, t in self.targets.items()}
        fixed = None if self.fixed_targets is None else pick(self.fixed_targets)
        gradient, (value, distance) = self._objective(points, weights, targets, fixed)
        for index in rows.tolist():
            self.attacks[index].evaluations += 1
        fresh = ~self._evaluated[rows]
        self._step_distance[rows[fresh]] = distance[fresh]
        self._evaluated[rows] = True
        better = distance < self.best_distance[rows]  # False for NaN: a diverged point is not kept
        self.best_distance[rows[better]] = distance[better]
        self.best_points[rows[better]] = points[better].detach()
        if self.config.signed:
            gradient = gradient.clone()
            gradient[:, :self.image_size] = gradient[:, :self.image_size].sign()
        return value.detach(), gradient.detach()

    # -- one attack's view -------------------------------------------------------------------

    def _image(self, index: int, points: torch.Tensor) -> torch.Tensor:
        return points[index, :self.image_size].view(self.input_shape)

    def _labels(self, index: int, points: torch.Tensor) -> list[int]:
        if self.fixed_labels is not None:
            return self.fixed_labels[index].tolist()
        return points[index, self.image_size:].view(self.logits_shape).argmax(-1).tolist()

    def _record(self, index: int, distance: float, image: torch.Tensor, labels: list[int],
                clock: float) -> None:
        attack = self.attacks[index]
        error, aligned_error = attack.observer.measure(image)
        attack.history.append(StepRecord(
            step=attack.step, attempt=len(attack.attempts), grad_distance=distance, mse=error,
            label_pred=labels, evaluations=attack.evaluations,
            seconds=time.perf_counter() - clock, aligned_mse=aligned_error))
        if self.config.snapshot_every and attack.step % self.config.snapshot_every == 0:
            attack.snapshots[attack.step] = image.cpu()

    def _start_attempts(self, indices: list[int]) -> None:
        for index in indices:
            attack = self.attacks[index]
            attack.attempt_seed = attempt_seed(attack.seed, len(attack.attempts))
            dummy, logits = random_start(attack.attempt_seed, self.input_shape, self.num_classes)
            start = dummy.flatten() if self.fixed_labels is not None else torch.cat(
                [dummy.flatten(), logits.flatten()])
            self.points[index] = start.to(self.device)
            attack.first_step, attack.initial, attack.best_so_far = attack.step, None, []
            attack.running = True
        rows = torch.tensor(indices, device=self.device)
        self.best_distance[rows] = math.inf
        self.optimiser.reset(rows)

    def _end_attempts(self, ended: dict[int, Status], clock: float) -> None:
        closing = [i for i, status in ended.items() if status != "diverged"]
        if closing:  # the engine measures where a finished attempt stopped, for the trace
            rows = torch.tensor(closing, device=self.device)
            self._evaluated[rows] = False
            self._evaluate(rows, self.points[rows])
            for index in closing:
                self._record(index, float(self._step_distance[index]),
                             self.normalisation.to_pixels(self._image(index, self.points)),
                             self._labels(index, self.points), clock)
        for index, status in ended.items():
            attack = self.attacks[index]
            distance = float(self.best_distance[index])
            attack.attempts.append(Attempt(seed=attack.attempt_seed, status=status,
                                           steps=attack.step, best_distance=distance))
            if math.isfinite(distance) and (attack.best is None or distance < attack.best[0]):
                attack.best = (distance, self._image(index, self.best_points).clone(),
                               self._labels(index, self.best_points))
            attack.running = False
            attack.finished = attack_finished(self.config,
                                              [a.status for a in attack.attempts], attack.step)

    # -- running -----------------------------------------------------------------------------

    def _step(self, indices: list[int], clock: float) -> None:
        """One optimiser step for the attacks ``indices`` (each in a running attempt)."""
        config = self.config
        rows = torch.tensor(indices, device=self.device)
        before = {i: (self.normalisation.to_pixels(self._image(i, self.points)).clone(),
                      self._labels(i, self.points)) for i in indices}
        self._evaluated[rows] = False
        if isinstance(self.optimiser, BatchedLBFGS):
            self.optimiser.step(rows, self.points, self._evaluate)
        else:
            _, gradient = self._evaluate(rows, self.points[rows])
            rates = torch.tensor([learning_rate(config, self.attacks[i].step
                                                - self.attacks[i].first_step) for i in indices],
                                 device=self.device)
            self.optimiser.step(rows, self.points, gradient, rates)
        if config.boxed:
            image = self.points[rows, :self.image_size]
            self.points[rows, :self.image_size] = torch.maximum(
                torch.minimum(image, self.bounds[1]), self.bounds[0])
        largest = self.points[rows, :self.image_size].abs().amax(1).tolist()
        ended: dict[int, Status] = {}
        for index, biggest in zip(indices, largest):
            attack = self.attacks[index]
            distance = float(self._step_distance[index])
            attack.initial = distance if attack.initial is None else attack.initial
            self._record(index, distance, *before[index], clock)
            attack.step += 1
            attack.best_so_far.append(float(self.best_distance[index]))
            status = status_after_step(
                config, distance=distance, initial=attack.initial,
                best_so_far=attack.best_so_far, largest_input=biggest,
                attempt=len(attack.attempts), steps_into_attempt=attack.step - attack.first_step)
            if status is None and attack.step >= config.steps:
                status = "budget"
            if status is not None:
                ended[index] = status
        if ended:
            self._end_attempts(ended, clock)

    def run(self) -> list[AttackResult]:
        """Run every attack to its end.

        Returns:
            One :class:`AttackResult` per victim, in order, as
            :meth:`~dlg_helpers.attack.engine.Attack.run` would give for it alone.
        """
        clock = time.perf_counter()
        bar = tqdm(total=self.config.steps, disable=not self.config.progress, unit="step",
                   desc=f"{len(self.attacks)} × {self.config.name}", mininterval=1.0)
        try:
            while True:
                waiting = [i for i, a in enumerate(self.attacks)
                           if not a.finished and not a.running]
                if waiting:
                    self._start_attempts(waiting)
                going = [i for i, a in enumerate(self.attacks) if a.running]
                if not going:
                    break
                self._step(going, clock)
                bar.update(max(a.step for a in self.attacks) - bar.n)
                bar.set_postfix(running=len(going), refresh=False)
        finally:
            bar.close()
        diverged = sum(all(a.status == "diverged" for a in attack.attempts)
                       for attack in self.attacks)
        if diverged:
            warnings.warn(f"{diverged} of {len(self.attacks)} attacks diverged in every "
                          "attempt; their results are the best points seen before that",
                          AttackDivergedWarning, stacklevel=2)
        return [self._result(attack) for attack in self.attacks]

    def _result(self, attack: _Bookkeeping) -> AttackResult:
        if attack.best is None:
            raise RuntimeError(
                f"the attack with seed {attack.seed} never saw a finite gradient distance; "
                "lower lr, allow more restarts, or check that the model's activations are "
                "smooth (Sigmoid)")
        _, best_input, labels = attack.best
        return attack.observer.result(
            reconstruction=self.normalisation.to_pixels(best_input).cpu(), label_pred=labels,
            history=attack.history, attempts=attack.attempts, snapshots=attack.snapshots,
            config=replace(self.config, seed=attack.seed), defence=attack.defence)


def reconstruct_many(victims: Sequence[Victim], config: AttackConfig = AttackConfig(),
                     seeds: Sequence[int] | None = None) -> list[AttackResult]:
    """Attack every victim's update in one batched computation (:class:`BatchedAttack`)."""
    return BatchedAttack(victims, config, seeds).run()
