"""Stored runs: a chapter reuses the record of an attack it would otherwise spend hours on.

A run is identified by a :class:`RunSpec` (model, images, image size, model seed and the attack's
settings). :func:`load_or_run` looks under a results folder for a record whose identity matches
exactly, loads it and says so; otherwise it computes the attack (resuming from a checkpoint if one
is there) and, when asked, stores it. Records that do not match, or cannot be read, are named with
the reason and never used.
"""

from __future__ import annotations

import glob
import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field, replace
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .attack import AttackConfig, AttackResult, config_dict
from .attacks import attack_entry
from .defences import parse_defence
from .devices import pick_device
from .experiments import run_attack
from .models import get_spec
from .options import config_arguments
from .records import RECORD_FILE, load_record, load_result, save_record

__all__ = ["RunSpec", "run_specs", "StoredRunError", "find_record", "stored_result",
           "load_or_run", "REPORT_SETTING", "in_report_setting"]


REPORT_SETTING = attack_entry("dlg").standard_config()
"""The report's loop: DLG's L-BFGS for all 300 steps, no early stop (records without a hash)."""


def in_report_setting(record: Mapping[str, Any]) -> bool:
    """Whether a stored run (a record, or a row of
    :func:`~dlg_helpers.records.list_records`) is in the report's setting: DLG with
    :data:`REPORT_SETTING`, no defence, the model's own image size and random weights."""
    return (record.get("defence") in (None, "none")
            and record.get("trained_steps", 0) == 0
            and record.get("image_size") == get_spec(record["model"]).image_size
            and config_dict(record["config"]) == asdict(replace(REPORT_SETTING, progress=True)))


class StoredRunError(ValueError):
    """A stored record exists but cannot be used (corrupt, or made with other settings)."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides the outcome of an attack, and so identifies its record.

    Attributes:
        model: registered model name.
        images: the private batch, as image names (one name for a batch of one).
        config: the attack's settings (``progress`` does not count).
        size: image side (None: the model's input size).
        model_seed: seed of the model's weights (None: ``config.seed``).
        defence: what the victim does to its gradient, as :func:`parse_defence` reads it
            (None: nothing).
        trained_steps: steps of training on the digits before the attack (0: random weights).
    """

    model: str
    images: tuple[str, ...]
    config: AttackConfig = field(default_factory=AttackConfig)
    size: int | None = None
    model_seed: int | None = None
    defence: str | None = None
    trained_steps: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.images, str):
            object.__setattr__(self, "images", (self.images,))
        get_spec(self.model)  # an unknown model fails here, with the list of known ones
        if self.defence is not None:  # a misspelt defence fails here; stored in canonical form
            object.__setattr__(self, "defence", parse_defence(self.defence).text())

    @property
    def image_size(self) -> int:
        return self.size or get_spec(self.model).image_size

    @property
    def weights_seed(self) -> int:
        return self.config.seed if self.model_seed is None else self.model_seed

    @property
    def folder_name(self) -> str:
        """The record's folder under ``results/<model>/``, unique to the run's identity.

        ``<images>-seed<k>``, then the attack's folder tag (:mod:`~dlg_helpers.attacks`:
        none for DLG, ``-ig`` for inverting gradients), the defence (``:`` written ``=``), and,
        when anything else differs from the attack's standard settings (:data:`REPORT_SETTING`
        for DLG, its preset for the others), the image size or the weights' seed, six hex
        digits of a hash of those differences.
        """
        entry = attack_entry(self.config)
        name = f"{'+'.join(self.images)}-seed{self.config.seed}{entry.folder_tag}"
        if self.defence is not None:
            name += "-" + self.defence.replace(":", "=")
        standard = asdict(entry.standard_config())
        differences = {key: value for key, value in asdict(self.config).items()
                       if key not in ("seed", "progress") and value != standard[key]}
        if self.image_size != get_spec(self.model).image_size:
            differences["image_size"] = self.image_size
        if self.weights_seed != self.config.seed:
            differences["model_seed"] = self.weights_seed
        if self.trained_steps:
            differences["trained_steps"] = self.trained_steps
        if differences:
            digest = hashlib.sha256(json.dumps(differences, sort_keys=True).encode()).hexdigest()
            name += "-" + digest[:6]
        return name

    def identity(self) -> dict[str, Any]:
        """The fields a record must repeat exactly to stand for this run."""
        return {
            "model": self.model,
            "image": "+".join(self.images),
            "image_size": self.image_size,
            "model_seed": self.weights_seed,
            "defence": self.defence,
            "trained_steps": self.trained_steps,
            "config": asdict(replace(self.config, progress=True)),
        }

    def folder(self, results_dir: str | Path) -> Path:
        """Where this run's record lives: ``results_dir/<model>/<folder_name>``."""
        return Path(results_dir) / self.model / self.folder_name

    def command(self, out: str | Path) -> str:
        """The command line that computes this run in the background and stores it in ``out``."""
        words = ["python", "-m", "dlg_helpers", "attack", "--model", self.model,
                 "--image", *self.images, *config_arguments(self.config)]
        if self.size is not None:
            words += ["--size", str(self.size)]
        if self.defence is not None:
            words += ["--defence", self.defence]
        if self.trained_steps:
            words += ["--trained-steps", str(self.trained_steps)]
        if self.model_seed is not None and self.model_seed != self.config.seed:
            raise ValueError("the command line seeds the weights with --seed; run a different "
                             "model_seed from Python with load_or_run(..., save=True)")
        return shlex.join([*words, "--out", str(out)])


def run_specs(model: str, images: Iterable[str], config: AttackConfig = REPORT_SETTING,
              size: int | None = None, trained_steps: int = 0,
              defence: str | None = None) -> list[RunSpec]:
    """One :class:`RunSpec` per entry of ``images`` (a batch when names are joined by ``+``),
    all with the same model, settings, image size, training and defence."""
    return [RunSpec(model, tuple(entry.split("+")), config, size, defence=defence,
                    trained_steps=trained_steps)
            for entry in images]


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
        print(f"not using {refusal}")
    if folder is None:
        return None
    record = load_record(folder)
    try:
        result = load_result(folder)
    except (FileNotFoundError, ValueError) as error:
        raise StoredRunError(str(error)) from error
    if not quiet:
        print(f"Loaded the stored run {folder.name} of {spec.model} (computed on "
              f"{record['device']} in {record['wall_seconds'] / 60:.0f} min, torch "
              f"{record['torch_version']}); recompute it with: {record['command']}")
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
    if save and (out / RECORD_FILE).is_file():
        try:
            differences = _differences(spec.identity(), _identity_of(load_record(out)))
        except (ValueError, KeyError, TypeError):
            differences = []  # an unreadable record is replaced by the run that belongs there
        if differences:
            raise StoredRunError(
                f"{out} holds another run ({'; '.join(differences)}); it is not overwritten: "
                "move it, or store this run under another results folder")
    print(f"Computing {spec.model} on {'+'.join(spec.images)} "
          f"({'asked to recompute' if recompute else 'no stored run matches'}); in the "
          f"background instead: {spec.command(out)}")
    result = run_attack(spec.model, list(spec.images), spec.config, model_seed=spec.model_seed,
                        size=spec.size, device=target, checkpoint=checkpoint,
                        checkpoint_every=checkpoint_every,
                        defence=None if spec.defence is None else parse_defence(spec.defence),
                        trained_steps=spec.trained_steps)
    if save:
        # The record's command runs from the folder holding results_dir (the repository's top),
        # whichever folder this was called from (a chapter runs in chapters/).
        stored_out = Path(Path(results_dir).resolve().name, spec.model, spec.folder_name)
        save_record(result, out, model=spec.model, image="+".join(spec.images), device=target,
                    command=spec.command(stored_out), model_seed=spec.weights_seed,
                    trained_steps=spec.trained_steps)
    return result

