"""The success-rate atlas: which sweeps it holds, where their tables live, the command of each.

The atlas measures how often DLG, iDLG and inverting gradients leak on LeNet. Its *base* sweep is
the report's case (one image, 32x32, random weights, no defence) over 200 pool images and 5
weight seeds; each *factor* sweep changes one thing (the batch size, the training stage, the
resolution, a defence; for DLG also its restarts) over at least 50 images and 2 seeds. A
factor's own baseline is not run again: :func:`~dlg_helpers.client.pool.pool_sample` draws a
smaller sample inside a larger one, so the base table already holds those attacks (the same
image, seed and settings), and :func:`baseline_rows` takes them from it.

This module is the one place that decides the atlas; ``python -m dlg_helpers atlas`` runs the
sweeps whose tables are missing, in order, each resumable shard by shard, and the chapter reads
the tables by :attr:`AtlasSweep.name`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ATLAS_FOLDER", "ATLAS_ATTACKS", "BASE_IMAGES", "BASE_SEEDS", "FACTOR_IMAGES",
           "FACTOR_SEEDS", "BATCH_SIZES", "TRAINED_STEPS", "SIZES", "DEFENCES", "RESTARTS",
           "FACTORS", "AtlasSweep", "ATLAS", "atlas_sweep", "baseline_rows", "level_label",
           "load_atlas", "factor_levels", "labelled_levels"]

ATLAS_FOLDER = Path("results") / "atlas"

ATLAS_ATTACKS = ("dlg", "idlg", "inverting-gradients")
"""The attacks measured, by registry key, each at its registered preset."""

BASE_IMAGES, BASE_SEEDS = 200, (0, 1, 2, 3, 4)
FACTOR_IMAGES, FACTOR_SEEDS = 50, (0, 1)

BATCH_SIZES = (2, 4, 8)
"""Batch sizes beside the base's 1. Each level holds at least ``FACTOR_IMAGES`` private images
in whole batches (:func:`~dlg_helpers.client.pool.pool_batches`: 25 batches of 2, 13 of 4, 7 of
8), so every level's per-image rate rests on about as many images; a level's rate by batch rests
on fewer attacks, and its interval says so."""

TRAINED_STEPS = 400
"""SGD steps on the digits before the update is shared: the middle of chapter 4's range."""

SIZES = (16, 64)
"""Image sides beside the base's 32."""

DEFENCES = ("gaussian:0.001", "gaussian:0.01", "prune:0.5", "prune:0.1")
"""Two strengths each of the two defence families chapter 9 finds most telling."""


RESTARTS = 0
"""DLG's restarts in the ablation that asks where its labels come from: none, one random start
(its preset allows 4 after a failed attempt, judged by the gradient distance alone)."""

FACTORS = {"batch": "1", "training": "0", "resolution": "32", "defences": "none",
           "restarts": "4"}
"""Each factor by name, with the base case's level of it (its baseline)."""


@dataclass(frozen=True)
class AtlasSweep:
    """One sweep of the atlas.

    Attributes:
        attack: the registered attack (its preset settings).
        factor: ``"base"``, ``"batch"``, ``"training"``, ``"resolution"`` or ``"defence"``.
        level: the factor's value in this sweep (``"8"``, ``"64"``, ...; the base's is ``""``).
        arguments: the ``sweep`` command's options that make it (besides ``--table``).
    """

    attack: str
    factor: str
    level: str
    arguments: tuple[str, ...]

    @property
    def name(self) -> str:
        """The table's name: ``dlg-base``, ``idlg-batch-8``, ``dlg-defences``."""
        return "-".join(part for part in (self.attack, self.factor, self.level) if part)

    def table(self, folder: Path = ATLAS_FOLDER) -> Path:
        """Where the sweep's Parquet table is stored."""
        return Path(folder) / f"{self.name}.parquet"

    def command(self, folder: Path = ATLAS_FOLDER) -> list[str]:
        """The ``python -m dlg_helpers`` arguments that run it."""
        return ["sweep", "--attack", self.attack, *self.arguments,
                "--table", str(self.table(folder))]


def _seeds(seeds: tuple[int, ...]) -> tuple[str, ...]:
    return ("--seeds", *map(str, seeds))


def _plan() -> tuple[AtlasSweep, ...]:
    factor = ("--pool", str(FACTOR_IMAGES), *_seeds(FACTOR_SEEDS))
    sweeps = [AtlasSweep(a, "base", "", ("--pool", str(BASE_IMAGES), *_seeds(BASE_SEEDS)))
              for a in ATLAS_ATTACKS]
    for attack in ATLAS_ATTACKS:
        sweeps += [AtlasSweep(attack, "batch", str(b), (*factor, "--batch", str(b)))
                   for b in BATCH_SIZES]
        sweeps.append(AtlasSweep(attack, "training", str(TRAINED_STEPS),
                                 (*factor, "--trained-steps", str(TRAINED_STEPS))))
        sweeps += [AtlasSweep(attack, "resolution", str(s), (*factor, "--size", str(s)))
                   for s in SIZES]
        sweeps.append(AtlasSweep(attack, "defences", "", (*factor, "--defences", *DEFENCES)))
    sweeps.append(AtlasSweep("dlg", "restarts", str(RESTARTS),
                             (*factor, "--restarts", str(RESTARTS))))
    return tuple(sweeps)


ATLAS: tuple[AtlasSweep, ...] = _plan()
"""Every sweep of the atlas, in the order ``python -m dlg_helpers atlas`` runs them: the three
base sweeps first (the chapter's headline), then each attack's factors."""


def atlas_sweep(name: str) -> AtlasSweep:
    """The atlas's sweep called ``name``.

    Raises:
        KeyError: naming the sweeps there are.
    """
    for sweep in ATLAS:
        if sweep.name == name:
            return sweep
    raise KeyError(f"the atlas has no sweep {name!r}; it has {', '.join(s.name for s in ATLAS)}")


def baseline_rows(base: Any, factor: Any) -> Any:
    """The rows of the base table ``base`` that are a factor sweep's baseline: the attacks on
    the images and seeds of the factor table ``factor`` (for a batch sweep, on its images one
    at a time), all in the base's setting."""
    names = {name for entry in factor["images"] for name in entry.split("+")}
    return base[base["images"].isin(names) & base["seed"].isin(set(factor["seed"]))]


def level_label(factor: str, level: str) -> str:
    """A factor's level as tables and figures name it: ``"batch of 8"``, ``"64 × 64"``,
    ``"after 400 SGD steps"``, ``"gaussian:0.01"``."""
    if factor == "batch":
        return "one image" if level == "1" else f"batch of {level}"
    if factor == "training":
        return "random weights" if level == "0" else f"after {level} SGD steps"
    if factor == "resolution":
        return f"{level} × {level}"
    if factor == "defences":
        return "no defence" if level == "none" else level
    if factor == "restarts":
        return "one start" if level == "0" else f"up to {level} restarts"
    raise KeyError(f"the atlas has no factor {factor!r}; it has {', '.join(FACTORS)}")


def load_atlas(folder: Path = ATLAS_FOLDER) -> dict[str, Any]:
    """Every stored table of the atlas by sweep name (a sweep still running is left out).

    Raises:
        FileNotFoundError: when ``folder`` does not exist, saying where the tables are and how
            to make them.
    """
    from .sweep import load_table

    if not Path(folder).is_dir():
        raise FileNotFoundError(
            f"no atlas folder at {folder}: point to the course's results/atlas (a chapter's "
            "RESULTS_DIR parameter), or make the tables with python -m dlg_helpers atlas")

    return {sweep.name: load_table(sweep.table(folder)) for sweep in ATLAS
            if sweep.table(folder).is_file()}


def factor_levels(tables: dict[str, Any], attack: str, factor: str) -> list[tuple[str, Any]]:
    """One factor of one attack as ``(level, rows)`` per level, in the factor's order: its
    baseline taken from the base table (:func:`baseline_rows`, on the images and seeds of the
    factor's stored sweeps) and each stored level. Empty when the base or every level of it is
    not stored."""
    import pandas as pd

    sweeps = [s for s in ATLAS if (s.attack, s.factor) == (attack, factor) and s.name in tables]
    base = tables.get(f"{attack}-base")
    if base is None or not sweeps:
        return []
    frames = [tables[s.name] for s in sweeps]
    levels = [(FACTORS[factor], baseline_rows(base, pd.concat(frames)))]
    for sweep, frame in zip(sweeps, frames):
        if factor == "defences":
            levels += [(defence, rows) for defence, rows in frame.groupby("defence", sort=False)]
        else:
            levels.append((sweep.level, frame))
    if factor != "defences":  # numeric levels: the baseline takes its place among them
        levels.sort(key=lambda entry: int(entry[0]))
    return levels


def labelled_levels(tables: dict[str, Any], attack: str, factor: str) -> list[tuple[str, Any]]:
    """:func:`factor_levels` with each level named as tables show it (:func:`level_label`)."""
    return [(level_label(factor, level), rows)
            for level, rows in factor_levels(tables, attack, factor)]
