"""Sweeps stored as one table: many attacks, run in batches, in this process or on Ray.

A sweep is a list of :class:`SweepCase` (one attack each: its images, seed, training stage,
defence) under one model, image side and attack setting. It is cut into *shards* of cases that
can share one batched computation (:class:`~dlg_helpers.attack.batched.BatchedAttack`); each
finished shard is written at once to ``<table>.shards/`` (a checkpoint: a run started again with
the same command skips the shards that exist), and when all are done they are gathered into the
one Parquet table, one row per attack (:func:`~dlg_helpers.measures.rows.result_row`'s numbers),
and the shards are removed. Reconstructions are kept as small PNGs only for the cases of the
first seed, the ones a chapter shows.

By default shards run one after another in this process. With ``ray=True`` each shard is a Ray
task with one CPU (on a local Ray started for the sweep, its files inside the table's folder, or
on an existing cluster at ``address``); the driver writes each shard as it arrives, so the
table is the same either way.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..attack.batched import BatchedAttack
from ..attack.config import AttackConfig
from ..client.defences import parse_defence
from ..client.victim import model_cache, victim
from ..measures.criteria import judge_table
from ..measures.rows import result_row
from ..ray_state import ray_folder
from .record import save_png

__all__ = ["SweepCase", "Sweep", "pool_sweep", "run_shard", "shards_folder", "run_sweep",
           "load_table", "TABLE_COLUMNS"]

# What a sweep does, shard by shard: shown by the command line, not in the chapters.
_LOG = logging.getLogger(__name__)

SHARD_SIZE = 32
"""Attacks per shard: one batched computation, and what an interruption can lose."""

THUMBNAIL_SIDE = 32  # reconstructions are stored at this side, as 8-bit PNGs

TABLE_COLUMNS = ("case", "images", "sources", "seed", "trained_steps", "defence", "batch",
                 "likeness", "rank", "lookalike", "image_likeness", "image_rank",
                 "image_lookalike", "r2", "corrected_ssim", "mse",
                 "label_correct", "labels_recovered", "status", "steps", "evaluations",
                 "restarts", "best_distance", "seconds")
"""The columns of a sweep's table besides the sweep's own settings and the thumbnail: scores,
never verdicts. Whether an attack leaked is decided when the table is read (:func:`load_table`),
by the course's one criterion, so a new criterion judges every stored table anew."""


@dataclass(frozen=True)
class SweepCase:
    """One attack of a sweep.

    Attributes:
        images: the private batch, by image name (:func:`~dlg_helpers.client.images.load_image`).
        seed: the model's weights and the attack's random start.
        trained_steps: SGD steps on the digits before the update is shared (0: random weights).
        defence: the victim's defence (``name:strength`` joined by ``+``; None: none).
    """

    images: tuple[str, ...]
    seed: int = 0
    trained_steps: int = 0
    defence: str | None = None

    def group(self) -> tuple[int, str | None, int]:
        """What cases of one shard must share: the training stage, defence and batch size."""
        return self.trained_steps, self.defence, len(self.images)


@dataclass(frozen=True)
class Sweep:
    """A sweep: its cases and what they share.

    Attributes:
        cases: the attacks, in the table's order.
        config: the attack's settings (each case takes its own seed).
        model: the registered model attacked.
        size: the image side (None: the model's own).
        sources: image name -> its source (``photo``, ``face``, ``digit``), for the table.
    """

    cases: tuple[SweepCase, ...]
    config: AttackConfig
    model: str = "lenet"
    size: int | None = None
    sources: tuple[tuple[str, str], ...] = ()

    def shards(self, shard_size: int = SHARD_SIZE) -> list[list[int]]:
        """The cases' indices cut into shards: consecutive cases of one group, at most
        ``shard_size`` each."""
        shards: list[list[int]] = []
        by_group: dict[tuple[int, str | None, int], list[int]] = {}
        for index, case in enumerate(self.cases):
            by_group.setdefault(case.group(), []).append(index)
        for indices in by_group.values():
            shards += [indices[i:i + shard_size] for i in range(0, len(indices), shard_size)]
        return shards

    def identity(self) -> str:
        """A short hash of everything that decides the table (its checkpoints carry it)."""
        settings = asdict(replace(self.config, progress=False))
        text = json.dumps({"config": settings, "model": self.model, "size": self.size,
                           "cases": [asdict(c) for c in self.cases]}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def pool_sweep(config: AttackConfig, images: int, seeds: Sequence[int] = (0,), *,
               batch: int = 1, trained_steps: Sequence[int] = (0,),
               defences: Sequence[str | None] = (None,), model: str = "lenet",
               size: int | None = None) -> Sweep:
    """A sweep over the offline pool: at least ``images`` pool images in batches of ``batch``
    (:func:`~dlg_helpers.client.pool.pool_batches`), every one attacked under each seed,
    training stage and defence (``name:strength`` text, None for none), with ``config``'s
    settings (snapshots off: a table keeps no history).

    Example:
        ``run_sweep(pool_sweep(attack_entry("dlg").config(), 8), "dlg-8.parquet")``
    """
    from ..client.pool import pool_batches

    grouped, drawn = pool_batches(images, batch)
    cases = tuple(SweepCase(tuple(names), seed, steps, defence) for seed in seeds
                  for steps in trained_steps for defence in defences for names in grouped)
    return Sweep(cases, replace(config, snapshot_every=0), model, size,
                 tuple((image.name, image.source) for image in drawn))


def _png(image: torch.Tensor) -> bytes:
    small = torch.nn.functional.interpolate(image[:1].float().clamp(0, 1),
                                            size=(THUMBNAIL_SIDE, THUMBNAIL_SIDE),
                                            mode="bilinear", antialias=True)
    buffer = io.BytesIO()
    save_png(small, buffer)
    return buffer.getvalue()


def run_shard(sweep: Sweep, indices: Sequence[int], threads: int | None = None
              ) -> list[dict[str, Any]]:
    """Run the cases ``indices`` of ``sweep`` as one batched computation; their table rows.

    Args:
        threads: torch's CPU threads for the shard (None: leave as it is).
    """
    if threads is not None:
        torch.set_num_threads(threads)
    cases = [sweep.cases[i] for i in indices]
    models = model_cache(sweep.model, size=sweep.size)  # one model per seed and stage
    victims = [victim(sweep.model, case.images, case.seed, sweep.size,
                      None if case.defence is None else parse_defence(case.defence),
                      network=models(case.seed, case.trained_steps)) for case in cases]
    results = BatchedAttack(victims, replace(sweep.config, progress=False),
                            seeds=[c.seed for c in cases]).run()
    sources = dict(sweep.sources)
    thumbnail_seed = min(c.seed for c in sweep.cases)
    rows = []
    for index, case, result in zip(indices, cases, results):
        row = result_row(result)
        rows.append({
            "case": index, "images": "+".join(case.images),
            "sources": "+".join(sources.get(name, "other") for name in case.images),
            "seed": case.seed, "trained_steps": case.trained_steps,
            "defence": case.defence or "none",
            **{key: row[key] for key in TABLE_COLUMNS if key in row},
            "reconstruction_png": _png(result.reconstruction) if case.seed == thumbnail_seed
            else None,
        })
    return rows


def _shard_path(folder: Path, number: int) -> Path:
    return folder / f"{number:04d}.parquet"


def _write_frame(frame: Any, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)  # a crash mid-write leaves no half-written table behind


def _ray_runner(sweep: Sweep, folder: Path, address: str | None, workers: int
                ) -> Callable[[list[tuple[int, list[int]]], Callable[[int, list], None]], None]:
    import ray

    def run(todo: list[tuple[int, list[int]]], done: Callable[[int, list], None]) -> None:
        with ExitStack() as stack:
            if not ray.is_initialized():
                options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                               configure_logging=False)
                if address is None:
                    options.update(num_cpus=workers,
                                   _temp_dir=stack.enter_context(ray_folder(folder)))
                else:
                    options.update(address=address)
                ray.init(**options)
                stack.callback(ray.shutdown)
            task = ray.remote(num_cpus=1)(run_shard)
            pending = {task.remote(sweep, indices, 1): number for number, indices in todo}
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                number = pending.pop(ready[0])
                done(number, ray.get(ready[0]))

    return run


def shards_folder(table: str | Path) -> Path:
    """Where the finished shards of the sweep into ``table`` wait until it is gathered."""
    table = Path(table)
    return table.with_name(table.name + ".shards")


def run_sweep(sweep: Sweep, table: str | Path, *, ray: bool = False, address: str | None = None,
              workers: int = 2, shard_size: int = SHARD_SIZE,
              log: Callable[[str], None] | None = None) -> Path:
    """Run ``sweep`` into the Parquet file ``table``, resuming from its finished shards.

    Args:
        ray: run each shard as a Ray task with one CPU.
        address: an existing Ray cluster's address (None: a local Ray with ``workers`` CPUs).
        workers: CPUs of the local Ray.
        shard_size: attacks per shard.
        log: where to say what is done (default: the package's log, which the command line
            shows and a chapter does not).

    Returns:
        The table's path.

    Raises:
        ValueError: when the table's folder holds shards of another sweep (other settings or
            cases): finish that sweep, or delete its ``.shards`` folder.
    """
    log = log or _LOG.info
    table = Path(table)
    folder = shards_folder(table)
    folder.mkdir(parents=True, exist_ok=True)
    identity_file = folder / "sweep.json"
    identity = sweep.identity()
    if identity_file.is_file() and json.loads(identity_file.read_text())["identity"] != identity:
        raise ValueError(f"{folder} holds the shards of another sweep; finish that one with its "
                         "own command, or delete the folder to start this one")
    identity_file.write_text(json.dumps({"identity": identity, "cases": len(sweep.cases)}))
    shards = sweep.shards(shard_size)
    todo = [(number, indices) for number, indices in enumerate(shards)
            if not _shard_path(folder, number).is_file()]
    log(f"{len(sweep.cases)} attacks in {len(shards)} shards, {len(shards) - len(todo)} "
        f"stored; running {len(todo)} {'on Ray' if ray else 'in this process'}")
    start = time.perf_counter()
    finished = len(shards) - len(todo)

    def done(number: int, rows: list[dict[str, Any]]) -> None:
        nonlocal finished
        import pandas as pd

        _write_frame(pd.DataFrame(rows), _shard_path(folder, number))
        finished += 1
        log(f"shard {number} done ({finished}/{len(shards)}, {time.perf_counter() - start:.0f} s)")

    if ray:
        _ray_runner(sweep, folder, address, workers)(todo, done)
    else:
        for number, indices in todo:
            done(number, run_shard(sweep, indices))
    _gather(folder, len(shards), table)
    shutil.rmtree(folder)
    return table


def _gather(folder: Path, count: int, table: Path) -> None:
    import pandas as pd

    frames = [pd.read_parquet(_shard_path(folder, number)) for number in range(count)]
    _write_frame(pd.concat(frames, ignore_index=True).sort_values("case", ignore_index=True),
                 table)


def load_table(table: str | Path) -> Any:
    """A stored sweep's table as a pandas DataFrame (one row per attack), its verdicts
    (``leaks``, ``identified``) derived from its scores by the course's one criterion
    (:func:`~dlg_helpers.measures.criteria.judge_table`).

    Raises:
        FileNotFoundError: naming the command that makes it, when it is not there.
    """
    import pandas as pd

    table = Path(table)
    if not table.is_file():
        raise FileNotFoundError(f"no sweep table at {table}; make it with python -m dlg_helpers "
                                "sweep ... --table " + str(table))
    return judge_table(pd.read_parquet(table))
