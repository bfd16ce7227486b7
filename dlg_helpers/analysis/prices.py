"""What a defence costs: the accuracy of a model trained with it, the mean of several trainings,
stored so that a chapter's table reads the same on every machine."""

from __future__ import annotations

import logging

import hashlib
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from ..client.defences import parse_defence
from ..client.training import TrainingConfig, train
from .protection import split_batch

__all__ = ["TRAINING_SEEDS", "COSTS_FOLDER", "training_costs", "stored_training_costs"]

# What was loaded, computed or missing: shown by the command line, not in the chapters.
_LOG = logging.getLogger(__name__)


TRAINING_SEEDS = 5
"""Trainings that price each defence: one model trained from a single seed moves by several
points of accuracy with its weights, split, batch order and noise (measured: a standard
deviation of 0.02 to 0.09 over five seeds), so a price is the mean over this many."""


COSTS_FOLDER = "training"
"""Stored prices live in ``results/training/``, one JSON file per training setting."""


def training_costs(defences: Sequence[str], config: TrainingConfig = TrainingConfig(),
                   model: str = "lenet", seeds: int = TRAINING_SEEDS) -> list[dict[str, Any]]:
    """For every defence, the held-out accuracy of ``model`` trained with it on ``config``'s
    task (:func:`~dlg_helpers.client.training.train`), over ``seeds`` trainings seeded
    ``config.seed``, ``config.seed + 1``, ..., and DP-SGD's epsilon. ``batch:B`` trains with
    batches of B for the same epochs (fewer, larger steps).

    Returns:
        One row per defence: ``accuracy`` (the mean), ``accuracy_sd`` (the standard deviation
        over the seeds, 0 for one seed), ``accuracies`` (each seed's) and ``epsilon`` (None
        without a guarantee; the same for every seed).
    """
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    rows = []
    for defence in defences:
        batch_size, gradient_defence = split_batch(defence)
        setting = config if batch_size == 1 else replace(config, batch_size=batch_size)
        results = [train(model, None if gradient_defence is None
                         else parse_defence(gradient_defence),
                         replace(setting, seed=config.seed + offset))
                   for offset in range(seeds)]
        accuracies = [result.accuracy for result in results]
        rows.append({"defence": defence, "accuracy": statistics.fmean(accuracies),
                     "accuracy_sd": statistics.stdev(accuracies) if seeds > 1 else 0.0,
                     "accuracies": accuracies, "epsilon": results[0].epsilon})
    return rows


def _costs_file(model: str, config: TrainingConfig, seeds: int,
                results_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    # as it reads back from JSON (tuples become lists), so a stored identity compares equal
    identity = json.loads(json.dumps({"model": model, "training": asdict(config), "seeds": seeds}))
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    name = f"{model}-{config.dataset}-{config.epochs}epochs-{seeds}seeds-{digest}.json"
    return Path(results_dir, COSTS_FOLDER, name), identity


def stored_training_costs(defences: Sequence[str], config: TrainingConfig = TrainingConfig(),
                          model: str = "lenet", seeds: int = TRAINING_SEEDS,
                          results_dir: str | Path = "results", *, recompute: bool = False,
                          save: bool = False) -> list[dict[str, Any]]:
    """:func:`training_costs`, reusing the stored prices of the same training setting.

    The prices of one setting (model, every field of ``config``, the number of seeds) live in
    one file under ``results_dir/training/``; the defences it lacks (or all, with
    ``recompute``) are trained now and, with ``save``, added to it. Loading makes a chapter's
    table the same on every machine; a recomputation on another CPU or a GPU rounds
    differently and moves each mean by a little (see the README's "What reproduces").
    """
    path, identity = _costs_file(model, config, seeds, results_dir)
    stored: dict[str, dict[str, Any]] = {}
    if path.is_file():
        try:
            content = json.loads(path.read_text())
            if content["identity"] != identity:
                raise ValueError("made with other settings")
            stored = content["rows"]
        except (ValueError, KeyError, TypeError) as error:
            _LOG.warning("not using %s: %s", path, error)
    wanted = list(dict.fromkeys(defences))
    missing = wanted if recompute else [d for d in wanted if d not in stored]
    if len(missing) < len(wanted):
        _LOG.info("loaded the stored prices of %d defence settings from %s (%d trainings each)",
                  len(wanted) - len(missing), path.name, seeds)
    if missing:
        _LOG.info("training %s %d times under each of %d settings (%s)", model, seeds,
                  len(missing), "asked to recompute" if recompute else "not stored")
        stored.update({row["defence"]: row for row in
                       training_costs(missing, config, model, seeds)})
        if save:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({
                "identity": identity, "rows": stored, "torch_version": torch.__version__,
                "cpu_kernels": torch.backends.cpu.get_cpu_capability()}, indent=1) + "\n")
    return [stored[d] for d in wanted]
