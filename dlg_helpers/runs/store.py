"""Stored runs: a chapter reuses the record of an attack it would otherwise spend hours on.

A run is identified by a :class:`~dlg_helpers.runs.spec.RunSpec`. :func:`load_or_run` looks under
a results folder for a record whose identity matches exactly, loads it and says so; otherwise it
computes the attack (resuming from a checkpoint if one is there) and, when asked, stores it.
Records that do not match, or cannot be read, are named with the reason and never used.
:func:`load_or_run_original` does the same for the original DLG loop's history, which the LeNet
chapter sets beside the engine.
"""

from __future__ import annotations

import glob
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from ..attack.baseline import BaselineStep, original_dlg
from ..attack.batched import BatchedAttack
from ..attack.config import config_dict
from ..attack.trace import AttackResult
from ..client.defences import parse_defence
from ..client.images import load_image
from ..client.models import build_model, get_spec
from ..client.victim import Victim, model_cache, victim
from ..devices import pick_device
from .record import RECORD_FILE, load_record, load_result, save_record
from .run import run_attack
from .spec import RunSpec

__all__ = ["StoredRunError", "find_record", "stored_result", "load_or_run", "run_many",
           "load_or_run_original"]

# What was loaded, computed or missing: shown by the command line, not in the chapters.
_LOG = logging.getLogger(__name__)


class StoredRunError(ValueError):
    """A stored record exists but cannot be used (corrupt, or made with other settings)."""


def _identity_of(record: dict[str, Any]) -> dict[str, Any]:
    config = config_dict(record["config"])
    return {
        "model": record.get("model"),
        "image": record.get("image"),
        "image_size": record.get("image_size"),
        "model_seed": record.get("model_seed"),
        "defence": record.get("defence"),
        "trained_steps": record.get("trained_steps", 0),
        "config": config,
    }


def _differences(wanted: dict[str, Any], found: dict[str, Any]) -> list[str]:
    differences = []
    for key, value in wanted.items():
        if key == "config":
            differences += [f"{name} {found[key].get(name)!r} (wanted {option!r})"
                            for name, option in value.items() if found[key].get(name) != option]
        elif found[key] != value:
            differences.append(f"{key} {found[key]!r} (wanted {value!r})")
    return differences


def find_record(spec: RunSpec, results_dir: str | Path) -> tuple[Path | None, list[str]]:
    """The folder of a record under ``results_dir/<model>/`` that matches ``spec`` exactly.

    Returns:
        ``(folder, refusals)``: the matching folder (or None) and why near misses were not
        used: the record in this run's own folder, or, when there is none, the records of
        the same images and seed.
    """
    wanted = spec.identity()
    refusals: list[str] = []
    preferred = spec.folder(results_dir)
    same_images = f"{'+'.join(spec.images)}-seed{spec.config.seed}"
    # Only this run's own folder and those of the same images and seed can hold it (a folder
    # is named by the run's identity), so nothing else is parsed: a model's records run to tens
    # of megabytes of JSON.
    candidates = sorted(Path(results_dir, spec.model).glob(f"{glob.escape(same_images)}*/"
                                                           f"{RECORD_FILE}"),
                        key=lambda path: path.parent != preferred)
    for path in candidates:
        try:
            found = _identity_of(load_record(path))
        except (ValueError, KeyError, TypeError) as error:
            refusals.append(f"{path.parent}: unreadable ({error})")
            continue
        differences = _differences(wanted, found)
        if not differences:
            return path.parent, refusals
        if path.parent == preferred or (not preferred.is_dir()
                                         and path.parent.name.startswith(same_images)):
            refusals.append(f"{path.parent}: made with other settings: {'; '.join(differences)}")
    return None, refusals


def stored_result(spec: RunSpec, results_dir: str | Path, *,
                  quiet: bool = False) -> AttackResult | None:
    """The stored run ``spec`` describes, or None when no record matches (nothing is computed).

    Unless ``quiet``, says which record was loaded and how to recompute it, or why near misses
    were not used.

    Raises:
        StoredRunError: when the matching record's arrays are missing or corrupt.
    """
    folder, refusals = find_record(spec, results_dir)
    for refusal in [] if quiet else refusals:
        _LOG.warning("not using %s", refusal)
    if folder is None:
        return None
    record = load_record(folder)
    try:
        result = load_result(folder)
    except (FileNotFoundError, ValueError) as error:
        raise StoredRunError(str(error)) from error
    if not quiet:
        _LOG.info("loaded the stored run %s of %s (computed on %s in %.0f min, torch %s); "
                  "recompute it with: %s", folder.name, spec.model, record["device"],
                  record["wall_seconds"] / 60, record["torch_version"], record["command"])
    return result


def load_or_run(spec: RunSpec, results_dir: str | Path = "results", *,
                recompute: bool | None = False, save: bool = False, device: str | None = None,
                checkpoint: str | Path | None = None, checkpoint_every: int = 10,
                quiet: bool = False) -> AttackResult:
    """The attack ``spec`` describes: its stored record when one matches, else computed.

    Args:
        spec: the run.
        results_dir: the folder of stored records (``results/`` at the repository's top).
        recompute: compute even when a matching record is stored; None: compute on a GPU
            (minutes at the report's scale), load on a CPU (hours).
        save: store a computed run as ``results_dir/<model>/<images>-seed<k>/`` (replacing what
            is there).
        device: where to compute (None: the GPU when there is one).
        checkpoint: checkpoint a computation here, and resume from it if it exists.
        checkpoint_every: steps between checkpoints.
        quiet: say nothing about the stored runs looked at, only when one is computed (a sweep
            reports its own count).

    Raises:
        StoredRunError: when the matching record's arrays are missing or corrupt (its JSON is
            fine, so it would have been used); the message says how to remake it.
    """
    target = str(pick_device(device))
    if recompute is None:
        recompute = target.startswith("cuda")
    if not recompute:
        result = stored_result(spec, results_dir, quiet=quiet)
        if result is not None:
            return result
    out = spec.folder(results_dir)
    if save:
        _check_free(spec, results_dir)
    _LOG.info("computing %s on %s (%s); in the background instead: %s", spec.model,
              "+".join(spec.images), "asked to recompute" if recompute else "no stored run matches",
              spec.command(out))
    result = run_attack(spec.model, list(spec.images), spec.config, model_seed=spec.model_seed,
                        size=spec.size, device=target, checkpoint=checkpoint,
                        checkpoint_every=checkpoint_every,
                        defence=None if spec.defence is None else parse_defence(spec.defence),
                        trained_steps=spec.trained_steps)
    if save:
        _store(spec, result, results_dir, target)
    return result


def _check_free(spec: RunSpec, results_dir: str | Path) -> None:
    """Refuse to store ``spec`` where another run's record is."""
    out = spec.folder(results_dir)
    if not (out / RECORD_FILE).is_file():
        return
    try:
        differences = _differences(spec.identity(), _identity_of(load_record(out)))
    except (ValueError, KeyError, TypeError):
        differences = []  # an unreadable record is replaced by the run that belongs there
    if differences:
        raise StoredRunError(
            f"{out} holds another run ({'; '.join(differences)}); it is not overwritten: "
            "move it, or store this run under another results folder")


def _store(spec: RunSpec, result: AttackResult, results_dir: str | Path, device: str) -> Path:
    # The record's command runs from the folder holding results_dir (the repository's top),
    # whichever folder this was called from (a chapter runs in chapters/).
    stored_out = Path(Path(results_dir).resolve().name, spec.model, spec.folder_name)
    return save_record(result, spec.folder(results_dir), model=spec.model,
                       image="+".join(spec.images), device=device,
                       command=spec.command(stored_out), model_seed=spec.weights_seed,
                       trained_steps=spec.trained_steps)


def _even_chunks(items: list[int], most: int) -> list[list[int]]:
    """``items`` in consecutive chunks of at most ``most``, as even as can be: 36 in chunks of
    at most 32 are two of 18, not 32 and 4 (a batch of 4 costs nearly as much as one of 18,
    since a batched step's cost grows more slowly than its batch)."""
    if not items:
        return []
    count = -(-len(items) // most)
    size = -(-len(items) // count)
    return [items[i:i + size] for i in range(0, len(items), size)]


def run_many(specs: Sequence[RunSpec], results_dir: str | Path = "results", *,
             device: str | None = None, batch_size: int = 32,
             log: Callable[[str], None] = print) -> list[AttackResult]:
    """The runs ``specs`` describe: the stored ones loaded, the others computed together by the
    batched engine (:class:`~dlg_helpers.attack.batched.BatchedAttack`), up to ``batch_size``
    at a time, and each stored as :func:`load_or_run` with ``save=True`` stores it (its record's
    command reproduces it alone, up to rounding).

    Runs are batched when they share the model, the image side, the batch size and every
    setting but the seed; those the batched engine refuses
    (:meth:`~dlg_helpers.attack.batched.BatchedAttack.refusal`: batch norm or dropout in
    training mode, an L-BFGS line search) run one at a time, as :func:`load_or_run` runs them.
    """
    target = str(pick_device(device))
    results: dict[int, AttackResult] = {}
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, spec in enumerate(specs):
        stored = stored_result(spec, results_dir, quiet=True)
        if stored is not None:
            results[index] = stored
            continue
        _check_free(spec, results_dir)
        key = (spec.model, spec.image_size, len(spec.images),
               json.dumps(asdict(replace(spec.config, seed=0, progress=False)), sort_keys=True))
        groups.setdefault(key, []).append(index)
    todo = [chunk for indices in groups.values() for chunk in _even_chunks(indices, batch_size)]
    log(f"{len(specs)} runs: {len(results)} stored, {len(specs) - len(results)} to compute in "
        f"{len(todo)} batches")
    for number, indices in enumerate(todo, start=1):
        chosen = [specs[i] for i in indices]
        # a batch shares model and size; runs with the same weights share one model
        models = model_cache(chosen[0].model, size=chosen[0].size, device=target)
        victims = [victim(spec.model, spec.images, spec.config.seed, spec.size,
                          None if spec.defence is None else parse_defence(spec.defence),
                          network=models(spec.weights_seed, spec.trained_steps))
                   for spec in chosen]
        config = replace(chosen[0].config, progress=False)
        if BatchedAttack.refusal(victims[0].model, config) is not None:
            for index, spec in zip(indices, chosen):
                results[index] = load_or_run(spec, results_dir, device=target, save=True,
                                             quiet=True)
            log(f"batch {number}/{len(todo)}: {len(chosen)} runs stored, one at a time")
            continue
        computed = BatchedAttack(victims, config,
                                 seeds=[spec.config.seed for spec in chosen]).run()
        for index, spec, result in zip(indices, chosen, computed):
            _store(spec, result, results_dir, target)
            results[index] = result
        log(f"batch {number}/{len(todo)}: {len(chosen)} runs stored")
    return [results[i] for i in range(len(specs))]


def _original_path(results_dir: str | Path, image: str, seed: int, steps: int) -> Path:
    return Path(results_dir) / "lenet" / "original" / f"{image}-seed{seed}-steps{steps}.json"


def load_or_run_original(image: str, seed: int, steps: int = 300,
                         results_dir: str | Path | None = None, *, recompute: bool = False,
                         save: bool = False) -> list[BaselineStep]:
    """The original DLG loop's history (:func:`~dlg_helpers.attack.baseline.original_dlg`) on
    ``image``, with LeNet's weights and the random start both drawn from ``seed`` as in the
    paper's code: read from ``results_dir/lenet/original/`` when stored there (and not
    ``recompute``), computed otherwise, and stored when ``save``.

    Raises:
        StoredRunError: when the stored history cannot be read; the message says how to remake it.
    """
    path = None if results_dir is None else _original_path(results_dir, image, seed, steps)
    if path is not None and path.is_file() and not recompute:
        try:
            return [BaselineStep(**step) for step in json.loads(path.read_text())["history"]]
        except (ValueError, KeyError, TypeError) as error:
            raise StoredRunError(f"{path} is corrupt ({error}); delete it and run again with "
                                 "save=True to remake it") from error
    sample = load_image(image, get_spec("lenet").image_size)
    network = build_model("lenet", seed=seed)
    client = Victim(network, sample.pixels, sample.label)
    _, history = original_dlg(network, client.share(), client.ground_truth(), steps=steps,
                              seed=seed)
    if save and path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"image": image, "seed": seed, "steps": steps,
                                    "torch_version": torch.__version__,
                                    "history": [asdict(step) for step in history]}, indent=1))
    return history
