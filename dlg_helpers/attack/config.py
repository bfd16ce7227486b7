"""An attack's settings: every knob of the reconstruction, with the report's setting as the
defaults,
and how a configuration stored before a setting existed is read today.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .objective import DISTANCES
from .registry import ATTACKS, DEFAULT_ATTACK, attack_entry

__all__ = ["AttackConfig", "PUBLISHED_INVERTING_GRADIENTS", "CIFAR10_INVERTING_GRADIENTS",
           "CIFAR10_PUBLISHED_PSNR", "config_dict"]


LabelMode = Literal["joint", "idlg", "known"]

Optimiser = Literal["lbfgs", "adam"]

Distance = Literal["euclidean", "cosine"]

LineSearch = Literal["strong_wolfe"]

Status = Literal["matched", "plateaued", "stalled", "diverged", "budget"]


LABEL_MODES: tuple[str, ...] = ("joint", "idlg", "known")


OPTIMISERS: tuple[str, ...] = ("lbfgs", "adam")


LINE_SEARCHES: tuple[str, ...] = ("strong_wolfe",)
"""The line searches ``torch.optim.LBFGS`` offers (its ``line_search_fn``); None is none."""


LR_DECAY_MILESTONES = (3 / 8, 5 / 8, 7 / 8)  # Geiping et al.: the step falls 10x at each


PUBLISHED_INVERTING_GRADIENTS: dict[str, Any] = {"steps": 24_000, "trials": 1, "tv_weight": 0.1}
"""Where Geiping et al.'s own settings for their attack differ from the course's equal-budget
preset (:meth:`AttackConfig.inverting_gradients`): the defaults of their repository's
``invertinggradients`` case (breaching): 24,000 iterations, one trial, and a total-variation
weight of 0.2 on the mean of the horizontal and vertical differences, which is 0.1 on their sum,
the form of their first repository and of this course. Cosine matching, signed Adam at step 0.1
decaying at 3/8, 5/8 and 7/8, and the box constraint are the same in both."""


CIFAR10_INVERTING_GRADIENTS: dict[str, Any] = {"steps": 4_800, "trials": 1, "tv_weight": 0.01}
"""Where Geiping et al.'s setting for the DLG paper's LeNet on CIFAR-10 (their paper's appendix:
untrained "LeNet (Zhu)", 32x32) differs from the course's equal-budget preset: 4,800
iterations from one random start and a total-variation weight of 0.01. Measured on the pool by
``python -m dlg_helpers sweep --attack inverting-gradients --steps 4800 --trials 1
--tv-weight 0.01 --pool 100 --table results/published/inverting-gradients-cifar10.parquet``."""

CIFAR10_PUBLISHED_PSNR = (18.00, 3.33)
"""The PSNR (dB, mean and standard deviation over the first 100 CIFAR-10 validation images)
Geiping et al. report for that setting (their Table 1)."""


@dataclass(frozen=True)
class AttackConfig:
    """Every knob of the attack; the defaults are the report's setting.

    Attributes:
        steps: optimiser steps in all, shared by all attempts (the report ran 300 L-BFGS steps).
        lr, history_size, max_iter: ``torch.optim.LBFGS`` settings (report: 1, 100, 20); ``lr``
            is Adam's learning rate too (history_size and max_iter are L-BFGS's alone).
        line_search: L-BFGS's line search: None takes the step ``lr`` along each search
            direction, as the report did; ``"strong_wolfe"`` searches along it for a step that
            meets the strong Wolfe conditions (torch's ``line_search_fn``; ``lr`` is its first
            trial step), so a step that would make the distance grow is shortened.
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
            (:data:`~dlg_helpers.attack.registry.ATTACKS`): its stored runs are filed, named and
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
    line_search: LineSearch | None = None
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

    def changes_from(self, other: AttackConfig) -> dict[str, Any]:
        """The settings in which this configuration differs from ``other``, with this one's
        values (the attack's name and the progress bar apart)."""
        return {name: value for name, value in asdict(self).items()
                if name not in ("attack", "progress") and value != getattr(other, name)}

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
        if self.line_search is not None and self.line_search not in LINE_SEARCHES:
            raise ValueError(f"unknown line_search {self.line_search!r}; use None (the fixed "
                             f"step) or one of {', '.join(LINE_SEARCHES)}")
        if self.line_search is not None and self.optimiser != "lbfgs":
            raise ValueError("a line search is L-BFGS's (optimiser='lbfgs'); Adam takes its "
                             "fixed step lr")
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
                             "or register it with dlg_helpers.attack.registry.register_attack")


def config_dict(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored configuration as :func:`dataclasses.asdict` gives it today.

    Settings added since the configuration was stored take their defaults (which reproduce what
    the code did before they existed: no ``line_search`` is L-BFGS's fixed step), so older
    checkpoints and records stay usable. A record stored before attacks were named by the
    registry was filed by its optimiser (Adam: inverting gradients), and is read so.
    """
    named = {"attack": "inverting-gradients" if stored.get("optimiser") == "adam"
             else DEFAULT_ATTACK}
    return {**asdict(AttackConfig()), **named, **stored, "progress": True}
