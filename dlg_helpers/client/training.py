"""What a defence costs: train a model on shared, defended gradients and measure its accuracy.

The tasks are labelled datasets that ship inside installed packages, so nothing downloads:
scikit-learn's handwritten digits (1,797 images of 8x8 pixels, 10 classes; the default) and
scikit-image's LFW subset (100 faces and 100 non-face patches, 25x25 pixels; easy enough that
every defence scores alike). A client computes the gradient of each batch, defends it, and the
server steps on what was shared (federated SGD), so accuracy after a fixed budget shows what the
defence took away. The same loop gives the trained weights at chosen steps, to attack a model
that is no longer random.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from .defences import DPSGD, Composed, Defence, dp_epsilon
from .gradients import shared_gradient
from .images import resize_and_crop
from .models import build_model, get_spec

__all__ = ["TrainingConfig", "TrainingResult", "digits_dataset", "face_dataset", "DATASETS",
           "accuracy", "dataset_size", "schedule", "train", "trained_weights"]


@dataclass(frozen=True)
class TrainingConfig:
    """A fixed training budget.

    Attributes:
        dataset: a key of :data:`DATASETS`.
        epochs: passes over the training images.
        steps: stop after this many SGD steps instead (None: after ``epochs`` passes).
        batch_size: images per shared gradient.
        lr: SGD learning rate applied to the shared gradient.
        seed: seed of the weights, the split and the batch order (and of a defence's noise).
        test_fraction: share of the images held out to measure accuracy.
        keep_weights_at: steps after which to keep a copy of the weights (step 0: untrained).
        delta: the DP guarantee's failure probability, for epsilon.
    """

    dataset: str = "digits"
    epochs: int = 3
    steps: int | None = None
    batch_size: int = 8
    lr: float = 0.1
    seed: int = 0
    test_fraction: float = 0.25
    keep_weights_at: tuple[int, ...] = ()
    delta: float = 1e-5

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError("epochs and batch_size must be at least 1 and lr positive")
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"steps must be 0 or more (or None for whole epochs), got {self.steps}")
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; use one of {', '.join(DATASETS)}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


@dataclass
class TrainingResult:
    """Test accuracy after the budget, each step's batch loss, and the privacy spent.

    ``epsilon`` is DP-SGD's (Opacus's RDP accountant, treating each batch as sampled with rate
    batch_size / training images); None for defences that give no guarantee. ``weights`` and
    ``kept_accuracy`` hold the weights and the test accuracy at ``keep_weights_at``.
    """

    accuracy: float
    losses: list[float]
    steps: int
    epsilon: float | None
    defence: str | None
    weights: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    kept_accuracy: dict[int, float] = field(default_factory=dict)


def _as_images(arrays: np.ndarray, size: int) -> torch.Tensor:
    """Greyscale arrays (N, H, W) in [0, 1] as (N, 3, size, size) images."""
    pixels = torch.from_numpy(np.asarray(arrays, dtype=np.float32)).unsqueeze(1).repeat(1, 3, 1, 1)
    return resize_and_crop(pixels, size)


def digits_dataset(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's handwritten digits: 1,797 images, labels 0-9, greyscale repeated over
    three channels, resized to ``size`` (shape (1797, 3, size, size))."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return _as_images(digits.images / 16.0, size), torch.from_numpy(digits.target).long()


def face_dataset(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-image's LFW subset: 200 images (1 = face, 0 = not a face), greyscale repeated over
    three channels, resized to ``size`` (shape (200, 3, size, size))."""
    from skimage import data

    labels = torch.cat([torch.ones(100), torch.zeros(100)]).long()
    return _as_images(data.lfw_subset(), size), labels


DATASETS = {"digits": digits_dataset, "faces": face_dataset}
"""The offline training tasks by name."""


def accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``inputs`` whose top class is the label (the model is put in eval mode and back)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predicted = model(inputs).argmax(dim=1)
    model.train(was_training)
    return float((predicted == labels).float().mean())


@lru_cache(maxsize=None)
def dataset_size(dataset: str) -> int:
    """How many images the data set ``dataset`` of :data:`DATASETS` holds (loaded once)."""
    return len(DATASETS[dataset](8)[1])


def schedule(config: TrainingConfig, images: int) -> tuple[int, int]:
    """How many of a data set's ``images`` ``config`` trains on, and for how many SGD steps
    (what DP-SGD's accountant needs).

    Raises:
        ValueError: when a batch is larger than the training images.
    """
    examples = images - round(config.test_fraction * images)
    per_epoch = examples // config.batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {config.batch_size} exceeds the {examples} training "
                         f"images of {config.dataset!r}; lower batch_size or test_fraction")
    return examples, config.epochs * per_epoch if config.steps is None else config.steps


def train(model_name: str = "lenet", defence: Defence | None = None,
          config: TrainingConfig = TrainingConfig()) -> TrainingResult:
    """Train registered ``model_name`` on ``config.dataset`` with every shared gradient defended.

    Returns:
        Accuracy on the held-out images, the losses, epsilon for DP-SGD, and the weights at
        ``config.keep_weights_at``.
    """
    spec = get_spec(model_name)
    images, labels = DATASETS[config.dataset](spec.image_size)
    inputs = spec.normalisation.to_model_input(images)
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(labels), generator=generator)
    examples, last_step = schedule(config, len(labels))
    test, training = order[:len(labels) - examples], order[len(labels) - examples:]
    model = build_model(model_name, seed=config.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    losses: list[float] = []
    weights: dict[int, dict[str, torch.Tensor]] = {}
    kept_accuracy: dict[int, float] = {}
    step = 0
    per_epoch = examples // config.batch_size

    def keep() -> None:
        if step in config.keep_weights_at:
            weights[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            kept_accuracy[step] = accuracy(model, inputs[test], labels[test])

    keep()
    while step < last_step:
        shuffled = training[torch.randperm(len(training), generator=generator)]
        for start in range(0, per_epoch * config.batch_size, config.batch_size):
            if step == last_step:
                break
            batch = shuffled[start:start + config.batch_size]
            x, y = inputs[batch], labels[batch]
            seed = config.seed * 1_000_003 + step  # fresh noise for every shared gradient
            gradient = (shared_gradient(model, x, y) if defence is None
                        else defence.share(model, x, y, seed=seed))
            with torch.no_grad():
                losses.append(float(nn.functional.cross_entropy(model(x), y)))
                for parameter, g in zip(parameters, gradient):
                    parameter -= config.lr * g
            if not math.isfinite(losses[-1]):
                raise ValueError(f"training diverged at step {step + 1} (loss {losses[-1]}); "
                                 f"lower lr (now {config.lr}) or the defence's noise")
            step += 1
            keep()
    return TrainingResult(
        accuracy=accuracy(model, inputs[test], labels[test]), losses=losses, steps=step,
        epsilon=_epsilon(defence, config, len(training), step),
        defence=None if defence is None else defence.text(), weights=weights,
        kept_accuracy=kept_accuracy)


def trained_weights(model_name: str, steps: int | Sequence[int], seed: int = 0,
                    config: TrainingConfig = TrainingConfig()) -> TrainingResult:
    """Train ``model_name`` (weights seed ``seed``) on ``config``'s task without a defence,
    keeping the weights and test accuracy after each of ``steps`` SGD steps (one run serves
    them all).

    Training stops at the most steps asked for, so ``weights[n]`` is the model a client holds
    after ``n`` rounds of training.
    """
    kept = (steps,) if isinstance(steps, int) else tuple(steps)
    if not kept or min(kept) < 0:
        raise ValueError(f"steps must be 0 or more, got {steps}")
    return train(model_name, config=replace(config, seed=seed, steps=max(kept),
                                            keep_weights_at=kept))


def _epsilon(defence: Defence | None, config: TrainingConfig, examples: int,
             steps: int) -> float | None:
    first = defence.parts[0] if isinstance(defence, Composed) else defence
    if not isinstance(first, DPSGD):
        return None
    return dp_epsilon(first.noise_multiplier, config.batch_size / examples, steps, config.delta)
