"""One attack run end to end: the victim set up from names, the attack, checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..attack.config import AttackConfig
from ..attack.engine import Attack
from ..attack.trace import AttackResult
from ..client.defences import Defence
from ..client.images import load_image
from ..client.models import build_model, get_spec
from ..client.training import trained_weights
from ..client.victim import Victim
from ..devices import pick_device

__all__ = ["run_attack", "victim_for", "model_for"]


def victim_for(model: str, image: str | Sequence[str], seed: int = 0, *,
               model_seed: int | None = None, size: int | None = None,
               label: int | None = None, device: str | None = None,
               defence: Defence | None = None, trained_steps: int = 0,
               network: nn.Module | None = None) -> Victim:
    """The client a run attacks: registered ``model`` (weights from ``model_seed``, default
    ``seed``, trained ``trained_steps`` steps on the digits) holding ``image`` (a name or a
    batch of names) at side ``size``, defending with ``defence`` (its noise seeded with
    ``seed``, as every stored run was made). ``network``, when given, is that model already
    built (so that runs sharing weights share one model)."""
    spec = get_spec(model)
    target = pick_device(device)
    names = [image] if isinstance(image, str) else list(image)
    samples = [load_image(name, size or spec.image_size, label=label) for name in names]
    pixels = torch.cat([sample.pixels for sample in samples]).to(target)
    if network is None:
        network = model_for(model, seed if model_seed is None else model_seed, size=size,
                            device=device, trained_steps=trained_steps)
    return Victim(network, pixels, [sample.label for sample in samples], spec.normalisation,
                  defence, noise_seed=seed)


def model_for(model: str, seed: int, *, size: int | None = None, device: str | None = None,
              trained_steps: int = 0) -> nn.Module:
    """Registered ``model`` with the weights of ``seed``, after ``trained_steps`` steps of
    training on the digits (0: its random weights)."""
    network = build_model(model, seed=seed, device=pick_device(device), size=size)
    if trained_steps:
        network.load_state_dict(trained_weights(model, trained_steps, seed)
                                .weights[trained_steps])
    return network


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
            (:func:`~dlg_helpers.client.training.trained_weights`; 0: its random weights).
    """
    victim = victim_for(model, image, config.seed, model_seed=model_seed, size=size,
                        label=label, device=device, defence=defence, trained_steps=trained_steps)
    if checkpoint is not None and Path(checkpoint).is_file():
        attack = Attack.resume(checkpoint, victim, config)
    else:
        attack = Attack.against(victim, config)
    return attack.run(checkpoint=checkpoint, checkpoint_every=checkpoint_every)
