"""One attack run end to end: the victim set up from names, the attack, checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..attack.config import AttackConfig
from ..attack.engine import Attack
from ..attack.trace import AttackResult
from ..client.defences import Defence
from ..client.victim import victim
from ..devices import pick_device

__all__ = ["run_attack"]


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
    client = victim(model, image, config.seed, size, defence, model_seed=model_seed,
                    label=label, device=pick_device(device), trained_steps=trained_steps)
    if checkpoint is not None and Path(checkpoint).is_file():
        attack = Attack.resume(checkpoint, client, config)
    else:
        attack = Attack.against(client, config)
    return attack.run(checkpoint=checkpoint, checkpoint_every=checkpoint_every)
