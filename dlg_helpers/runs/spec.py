"""What identifies a stored run: its model, images, size, weights, training, defence and attack
settings, the folder it is filed in and the command that recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..attack.config import AttackConfig, config_dict
from ..attack.registry import attack_entry
from ..client.defences import parse_defence
from ..client.models import get_spec
from .options import config_arguments

__all__ = ["batch_of", "batches_for", "REPORT_SETTING", "in_report_setting", "RunSpec",
           "run_specs"]


REPORT_SETTING = attack_entry("dlg").standard_config()
"""The report's loop: DLG's L-BFGS for all 300 steps, no early stop (records without a hash)."""


def in_report_setting(record: Mapping[str, Any]) -> bool:
    """Whether a stored run (a record, or a row of
    :func:`~dlg_helpers.runs.record.list_records`) is in the report's setting: DLG with
    :data:`REPORT_SETTING`, no defence, the model's own image size and random weights."""
    return (record.get("defence") in (None, "none")
            and record.get("trained_steps", 0) == 0
            and record.get("image_size") == get_spec(record["model"]).image_size
            and config_dict(record["config"]) == asdict(replace(REPORT_SETTING, progress=True)))


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

        ``<images>-seed<k>``, then the attack's folder tag (:mod:`~dlg_helpers.attack.registry`:
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


def batch_of(images: Sequence[str], size: int) -> str:
    """The first ``size`` of ``images`` as one batch entry for :func:`run_specs`
    (``"cat+astronaut"``)."""
    if not 1 <= size <= len(images):
        raise ValueError(f"a batch of {size} needs at least {size} images; {len(images)} given")
    return "+".join(images[:size])


def batches_for(model: str, singles: Sequence[str],
                pairs: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """The private batches ``model`` is attacked on: each of ``singles`` alone, or ``pairs``
    when the model needs more than one image (Inception-v3 with its auxiliary head)."""
    if get_spec(model).min_batch_size > 1:
        return [tuple(pair) for pair in pairs]
    return [(image,) for image in singles]


def run_specs(model: str, images: Iterable[str], config: AttackConfig = REPORT_SETTING,
              size: int | None = None, trained_steps: int = 0,
              defence: str | None = None) -> list[RunSpec]:
    """One :class:`RunSpec` per entry of ``images`` (a batch when names are joined by ``+``),
    all with the same model, settings, image size, training and defence."""
    return [RunSpec(model, tuple(entry.split("+")), config, size, defence=defence,
                    trained_steps=trained_steps)
            for entry in images]
