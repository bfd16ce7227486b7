"""DP-SGD judged fairly: tuned before it is priced, and its guarantee given both for the one
release an attacker saw and for the whole training.

A defence with a guarantee deserves the same care as the model it protects: DP-SGD clips every
example's gradient, so the learning rate that suits plain SGD is the wrong one, and a price
measured at one untuned setting overstates its cost. :func:`dp_grid` trains at each target ε over
a small grid of learning rates and clipping norms, with the noise that spends exactly that ε over
the training (Opacus's accountant), and :func:`best_per_target` keeps the best setting for each.

The ε of a training run counts every step a client took part in, each time with a small chance of
being sampled. The attacked release is one step on one client's own batch, which it certainly took
part in: :func:`release_epsilon` is the ε of that single Gaussian release, far larger for the same
noise.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..client.defences import dp_epsilon
from ..client.training import TrainingConfig, dataset_size, schedule
from .prices import stored_training_costs

__all__ = ["DP_TARGETS", "DP_LEARNING_RATES", "DP_CLIPS", "noise_for", "dp_defence",
           "release_epsilon",
           "dp_grid", "best_per_target"]

DP_TARGETS = (1.0, 2.0, 4.0, 8.0)
"""The ε of a whole training that the grid aims at, in the range deployments report (about 1 to
10)."""

DP_LEARNING_RATES = (0.1, 0.5, 2.0, 8.0)
"""Learning rates tried under DP-SGD: clipping shrinks each step, so larger ones than plain
SGD's."""

DP_CLIPS = (0.1, 1.0)
"""Clipping norms tried."""


def noise_for(epsilon: float, config: TrainingConfig) -> float:
    """The DP-SGD noise multiplier that spends ``epsilon`` (at ``config.delta``) over the
    training ``config`` describes: its batches, epochs and data set (Opacus's RDP accountant)."""
    from opacus.accountants.utils import get_noise_multiplier

    examples, steps = schedule(config, dataset_size(config.dataset))
    with warnings.catch_warnings():
        # Opacus notes when the best Renyi order sits at the edge of its grid: the noise found
        # then spends a little less than epsilon, never more.
        warnings.filterwarnings("ignore", "Optimal order is the largest alpha")
        return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=config.delta,
                                          sample_rate=config.batch_size / examples,
                                          steps=steps, accountant="rdp"))


def _defence_text(noise: float, clip: float) -> str:
    return f"dpsgd:{noise:.4g}:{clip:g}"


def dp_defence(epsilon: float, config: TrainingConfig, clip: float = 1.0) -> str:
    """The defence string of DP-SGD at the noise that spends ``epsilon`` over ``config``'s
    training, with clipping norm ``clip`` (``"dpsgd:0.5151:1"``)."""
    return _defence_text(noise_for(epsilon, config), clip)


def release_epsilon(noise_multiplier: float, delta: float = 1e-5) -> float:
    """The ε of one DP-SGD release that certainly includes the client's example (the single
    shared gradient the attacks see): one step, sampled with probability 1."""
    return dp_epsilon(noise_multiplier, 1.0, 1, delta)


def dp_grid(config: TrainingConfig, targets: Sequence[float] = DP_TARGETS,
            learning_rates: Sequence[float] = DP_LEARNING_RATES,
            clips: Sequence[float] = DP_CLIPS, seeds: int = 2, model: str = "lenet",
            results_dir: str | Path = "results", *, recompute: bool = False,
            save: bool = False) -> list[dict[str, Any]]:
    """DP-SGD's accuracy at each target ε, learning rate and clipping norm (stored prices,
    :func:`~dlg_helpers.analysis.prices.stored_training_costs`, trained when missing).

    Returns:
        One row per setting: ``target``, ``noise`` (the multiplier), ``clip``, ``lr``, the
        ``defence`` string, ``accuracy`` (mean over ``seeds``), ``accuracy_sd``, each seed's
        ``accuracies``, the training's
        ``epsilon`` as the accountant counts it and the single release's ``release_epsilon``.
    """
    # the noise depends on the target and the schedule only, not on the learning rate or clip;
    # it is trained as its string writes it (four digits)
    noises = {target: float(f"{noise_for(target, config):.4g}") for target in targets}
    rows = []
    for lr in learning_rates:
        setting = replace(config, lr=lr)
        defences = {(target, clip): _defence_text(noises[target], clip)
                    for target in targets for clip in clips}
        costs = stored_training_costs(list(defences.values()), setting, model, seeds,
                                      results_dir, recompute=recompute, save=save)
        by_defence = {row["defence"]: row for row in costs}
        for (target, clip), defence in defences.items():
            cost = by_defence[defence]
            rows.append({"target": target, "noise": noises[target], "clip": clip, "lr": lr,
                         "defence": defence, "accuracy": cost["accuracy"],
                         "accuracy_sd": cost["accuracy_sd"], "accuracies": cost["accuracies"],
                         "epsilon": cost["epsilon"],
                         "release_epsilon": release_epsilon(noises[target], config.delta)})
    return rows


def best_per_target(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each target ε of :func:`dp_grid`, the setting with the highest mean accuracy, in the
    order of the targets; ``settings`` says how many were tried and ``spread`` the range of their
    accuracies."""
    best = []
    for target in dict.fromkeys(row["target"] for row in rows):
        tried = [row for row in rows if row["target"] == target]
        top = max(tried, key=lambda row: row["accuracy"])
        accuracies = [row["accuracy"] for row in tried]
        best.append({**top, "settings": len(tried),
                     "spread": (min(accuracies), max(accuracies)),
                     "median_tried": statistics.median(accuracies)})
    return best
