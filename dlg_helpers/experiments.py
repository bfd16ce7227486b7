"""One call per experiment: a named model attacked on a named image, and tables of the outcome."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .attack import Attack, AttackConfig, AttackResult, reconstruct
from .defences import Defence
from .devices import pick_device
from .images import load_image
from .gradients import relative_gradient_gap
from .metrics import best_recovered, image_metrics, mse
from .models import ModelSpec, build_model, get_spec
from .original import BaselineStep, original_dlg
from .training import trained_weights

__all__ = ["run_attack", "result_row", "median_of", "success_count",
           "OriginalVsEngine", "compare_with_original", "Victim", "victim", "gradient_gaps"]


def run_attack(model: str, image: str | Sequence[str], config: AttackConfig = AttackConfig(), *,
               model_seed: int | None = None, size: int | None = None,
               label: int | None = None, device: str | None = None,
               checkpoint: str | Path | None = None, checkpoint_every: int = 10,
               defence: Defence | None = None, trained_steps: int = 0) -> AttackResult:
    """Attack registered ``model`` on shipped image ``image`` with the model's own input settings.

    Args:
        model: a registered model name (``dlg_helpers.model_names()``).
        image: an image name (``dlg_helpers.image_names()``), ``face-N``, ``digit-N`` or a file
            path; several of them make one batch (Inception-v3 with its auxiliary head needs two).
        config: the attack's settings.
        model_seed: seed of the model's random weights (default: ``config.seed``).
        size: image side in pixels (default: the model's input size).
        label: class index to use instead of each image's own.
        device: ``"cpu"`` or ``"cuda"`` (default: the GPU when there is one).
        checkpoint: a file to checkpoint to as the attack runs; when it already exists, the
            attack resumes from it (it must have been made with the same arguments).
        checkpoint_every: steps between checkpoints.
        defence: what the victim does to its gradient before sharing it (None: nothing).
        trained_steps: attack the model after this many steps of training on the digits
            (:func:`~dlg_helpers.training.trained_weights`; 0: its random weights).
    """
    spec = get_spec(model)
    target = pick_device(device)
    names = [image] if isinstance(image, str) else list(image)
    samples = [load_image(name, size or spec.image_size, label=label) for name in names]
    pixels = torch.cat([sample.pixels for sample in samples]).to(target)
    weights_seed = config.seed if model_seed is None else model_seed
    network = build_model(model, seed=weights_seed, device=target, size=size)
    if trained_steps:
        network.load_state_dict(trained_weights(model, trained_steps, weights_seed)
                                .weights[trained_steps])
    arguments = (network, pixels, [sample.label for sample in samples], config,
                 spec.normalisation, defence)
    if checkpoint is not None and Path(checkpoint).is_file():
        attack = Attack.resume(checkpoint, *arguments)
    else:
        attack = Attack(*arguments)
    return attack.run(checkpoint=checkpoint, checkpoint_every=checkpoint_every)


@dataclass
class Victim:
    """A client about to share a gradient: its model, its private image (pixels and model
    input) and label, and the model's spec (for its normalisation)."""

    spec: ModelSpec
    network: torch.nn.Module
    pixels: torch.Tensor
    inputs: torch.Tensor
    labels: torch.Tensor


def victim(model: str, image: str | Sequence[str], seed: int = 0,
           size: int | None = None) -> Victim:
    """Registered ``model`` with random weights ``seed`` holding shipped ``image`` (or a batch
    of them) at side ``size`` (None: the model's own): the client whose gradient the chapters
    inspect."""
    spec = get_spec(model)
    samples = [load_image(name, size or spec.image_size)
               for name in ([image] if isinstance(image, str) else image)]
    pixels = torch.cat([sample.pixels for sample in samples])
    return Victim(spec=spec, network=build_model(model, seed=seed, size=size), pixels=pixels,
                  inputs=spec.normalisation.to_model_input(pixels),
                  labels=torch.tensor([sample.label for sample in samples]))


def gradient_gaps(model: str, image: str, changes: Mapping[str, Callable[[torch.Tensor],
                                                                        torch.Tensor]],
                  seed: int = 0, size: int | None = None) -> list[dict[str, Any]]:
    """How far each change of the private image moves its gradient, and how far its pixels.

    For every named change (a function of the (1, 3, H, W) pixels), the image MSE and the
    :func:`~dlg_helpers.gradients.relative_gradient_gap` on ``model`` (random weights ``seed``),
    with the image at side ``size`` (None: the model's own).
    """
    client = victim(model, image, seed, size)
    rows = []
    for name, change in changes.items():
        other = change(client.pixels)
        rows.append({"model": model, "change": name, "mse": mse(other, client.pixels),
                     "gap": relative_gradient_gap(
                         client.network, client.inputs,
                         client.spec.normalisation.to_model_input(other), client.labels)})
    return rows


def result_row(result: AttackResult, threshold: float = 1e-3) -> dict[str, Any]:
    """The numbers a results table shows for one attack. ``ssim`` is the batch's mean,
    ``best_ssim`` its best-recovered image's (:func:`~dlg_helpers.metrics.best_recovered`): what
    a batch hides is judged by the image that comes back best."""
    quality = image_metrics(result.reconstruction, result.truth)
    return {
        **quality,
        "best_ssim": best_recovered(result.reconstruction, result.truth)["ssim"],
        "label_true": result.label_true,
        "label_pred": result.label_pred,
        "label_correct": result.label_correct,
        "labels_recovered": result.labels_recovered,
        "reconstructed": quality["mse"] < threshold,
        "first_step_below": result.first_step_below(threshold),
        "first_aligned_step_below": result.first_step_below(threshold, "aligned_mse"),
        "settling_step": result.settling_step("mse"),
        "aligned_settling_step": result.settling_step("aligned_mse"),
        "steps": result.steps,
        "evaluations": result.evaluations,
        "seconds": result.wall_seconds,
        "restarts": len(result.attempts) - 1,
        "every_start_diverged": all(a.status == "diverged" for a in result.attempts),
        "status": result.status,
    }


def median_of(rows: Sequence[Mapping[str, Any]], key: str) -> float | None:
    """Median of ``key`` over the rows where it is not None (None when there are none)."""
    values = [row[key] for row in rows if row[key] is not None]
    return statistics.median(values) if values else None


def success_count(rows: Sequence[Mapping[str, Any]]) -> int:
    """How many attacks reconstructed the image (MSE below threshold) with the right label."""
    return sum(bool(row["reconstructed"] and row["label_correct"]) for row in rows)


@dataclass(frozen=True)
class OriginalVsEngine:
    """The original DLG loop and the engine, run on the same LeNet, image and seed."""

    seed: int
    original: list[BaselineStep]
    engine: AttackResult
    threshold: float = 1e-3

    @property
    def original_mse(self) -> float:
        return self.original[-1].mse

    @property
    def original_reconstructed(self) -> bool:
        return self.original_mse < self.threshold

    @property
    def engine_reconstructed(self) -> bool:
        return self.engine.final_mse < self.threshold and self.engine.label_correct

    def original_seconds_to_threshold(self) -> float | None:
        return next((s.seconds for s in self.original if s.mse < self.threshold), None)

    def engine_seconds_to_threshold(self) -> float | None:
        return next((r.seconds for r in self.engine.history if r.mse < self.threshold), None)

    def original_rate_over_engine_steps(self) -> float:
        """Evaluations per second of the original over as many steps as the engine took.

        Late steps of a converged L-BFGS run skip the direction update and are cheaper per
        evaluation, so rates are compared over the same stretch of steps.
        """
        step = self.original[min(self.engine.steps, len(self.original)) - 1]
        return step.evaluations / step.seconds

    def engine_rate(self) -> float:
        return self.engine.evaluations / self.engine.wall_seconds


def compare_with_original(image: str, seeds: Iterable[int],
                          config: AttackConfig = AttackConfig(),
                          engine_runs: Mapping[int, AttackResult] | None = None
                          ) -> list[OriginalVsEngine]:
    """For each seed, the original 300-step loop and then the engine on LeNet (seeded weights).

    Both draw their first random start from the seed, so the engine follows the original's
    trajectory until it stops or restarts. ``engine_runs`` gives the engine's run of a seed
    when it is already at hand (a stored run of ``config`` with that seed); the rest are
    computed.
    """
    sample = load_image(image, get_spec("lenet").image_size)
    known = engine_runs or {}
    comparisons = []
    for seed in tqdm(list(seeds), desc="original vs engine", unit="seed", mininterval=1.0):
        network = build_model("lenet", seed=seed)
        _, original = original_dlg(network, sample.pixels, sample.label, steps=config.steps,
                                   seed=seed)
        engine = known[seed] if seed in known else reconstruct(
            network, sample.pixels, sample.label, replace(config, seed=seed))
        comparisons.append(OriginalVsEngine(seed=seed, original=original, engine=engine))
    return comparisons
