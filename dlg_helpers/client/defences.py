"""Defences a client applies to its gradient before sharing it, each with one strength setting.

A defence turns the private batch into the gradient that is shared. Most post-process the plain
gradient (:meth:`Defence.transform`): noise, pruning, reduced precision. DP-SGD cannot: it clips
every example's own gradient before averaging, so it computes the gradient itself, with Opacus.
Defences compose with ``+`` (applied left to right) and read from text
(``parse_defence("prune:0.1+gaussian:1e-4")``), so the command line and the stored runs can name
them. Every defence is a frozen dataclass: its ``repr`` is its identity in checkpoints and records.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .gradients import classification_loss, shared_gradient

__all__ = ["Defence", "GaussianNoise", "LaplacianNoise", "MagnitudePruning", "ReducedPrecision",
           "DPSGD", "Composed", "DEFENCE_NAMES", "parse_defence", "dp_compatible", "dp_epsilon"]


Gradient = list[torch.Tensor]


class Defence(ABC):
    """A rule for what a client shares instead of its plain gradient."""

    name: ClassVar[str]  # the word that names it in text, e.g. "gaussian"

    def share(self, model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
              seed: int = 0) -> Gradient:
        """The gradient the client shares for its private batch.

        Args:
            model, inputs, labels: as :func:`~dlg_helpers.client.gradients.shared_gradient`.
            seed: seed of the defence's randomness (noise), so that a run can be repeated.
        """
        generator = torch.Generator(device=inputs.device).manual_seed(seed)
        return self.transform(shared_gradient(model, inputs, labels), generator)

    @abstractmethod
    def transform(self, gradient: Gradient, generator: torch.Generator) -> Gradient:
        """The defended version of a plain (batch-mean) gradient."""

    def __add__(self, other: Defence) -> Composed:
        return Composed((*_parts(self), *_parts(other)))

    def text(self) -> str:
        """The defence as :func:`parse_defence` reads it."""
        return f"{self.name}:{getattr(self, _STRENGTH[type(self)])}"


def _parts(defence: Defence) -> tuple[Defence, ...]:
    return defence.parts if isinstance(defence, Composed) else (defence,)


@dataclass(frozen=True)
class _AdditiveNoise(Defence):
    """Independent noise of variance ``variance`` added to every gradient entry."""

    variance: float

    def __post_init__(self) -> None:
        if not self.variance >= 0 or math.isinf(self.variance):
            raise ValueError(f"noise variance must be a finite number >= 0, got {self.variance}; "
                             "the DLG paper's sweep runs from 1e-4 to 1e-1")

    def transform(self, gradient: Gradient, generator: torch.Generator) -> Gradient:
        return [g + self._draw(g, generator) for g in gradient]

    @abstractmethod
    def _draw(self, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Noise shaped like ``like``."""


@dataclass(frozen=True)
class GaussianNoise(_AdditiveNoise):
    """Add N(0, ``variance``) noise to every gradient entry (DLG's paper swept 1e-4 to 1e-1)."""

    name: ClassVar[str] = "gaussian"

    def _draw(self, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return math.sqrt(self.variance) * torch.randn(like.shape, generator=generator,
                                                      device=like.device, dtype=like.dtype)


@dataclass(frozen=True)
class LaplacianNoise(_AdditiveNoise):
    """Add Laplacian noise of variance ``variance`` (scale ``sqrt(variance / 2)``)."""

    name: ClassVar[str] = "laplacian"

    def _draw(self, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        # The difference of two independent Exponential(1) draws is Laplace(0, 1).
        one, two = (torch.empty(like.shape, device=like.device, dtype=like.dtype)
                    .exponential_(generator=generator) for _ in range(2))
        return math.sqrt(self.variance / 2) * (one - two)


@dataclass(frozen=True)
class MagnitudePruning(Defence):
    """Keep the largest ``keep`` fraction of each parameter's gradient entries, zero the rest.

    ``keep=0.1`` shares 10% of the entries (the DLG paper's "pruning ratio" of 90%).
    """

    keep: float
    name: ClassVar[str] = "prune"

    def __post_init__(self) -> None:
        if not 0 < self.keep <= 1:
            raise ValueError(f"keep is the fraction of gradient entries shared, in (0, 1], got "
                             f"{self.keep}; keep=0.1 prunes 90%")

    def transform(self, gradient: Gradient, generator: torch.Generator) -> Gradient:
        pruned = []
        for g in gradient:
            kept = max(1, round(self.keep * g.numel()))
            flat = g.flatten()
            mask = torch.zeros_like(flat, dtype=torch.bool)
            mask[flat.abs().topk(kept).indices] = True
            pruned.append(torch.where(mask, flat, torch.zeros_like(flat)).view_as(g))
        return pruned


PRECISIONS = ("float16", "bfloat16", "int8")


@dataclass(frozen=True)
class ReducedPrecision(Defence):
    """Share the gradient rounded to ``precision``: float16, bfloat16, or int8 (each parameter's
    entries scaled so that the largest magnitude is 127, rounded, and scaled back)."""

    precision: str
    name: ClassVar[str] = "precision"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; use one of "
                             f"{', '.join(PRECISIONS)}")

    def transform(self, gradient: Gradient, generator: torch.Generator) -> Gradient:
        if self.precision == "int8":
            return [_int8_round_trip(g) for g in gradient]
        dtype = getattr(torch, self.precision)
        return [g.to(dtype).to(g.dtype) for g in gradient]


def _int8_round_trip(g: torch.Tensor) -> torch.Tensor:
    step = g.abs().max() / 127
    if step == 0:
        return g.clone()
    return (g / step).round().clamp(-127, 127) * step


@dataclass(frozen=True)
class DPSGD(Defence):
    """DP-SGD (Abadi et al. 2016) through Opacus: clip each example's gradient to norm
    ``max_grad_norm``, sum, add N(0, (``noise_multiplier`` * ``max_grad_norm``)^2) noise, and
    divide by the batch size.

    The strength is ``noise_multiplier``; :func:`dp_epsilon` gives the privacy it buys. Batch
    norm mixes the examples of a batch, so per-example gradients do not exist for it: use
    :func:`dp_compatible` first (batch norm becomes group norm).
    """

    noise_multiplier: float
    max_grad_norm: float = 1.0
    name: ClassVar[str] = "dpsgd"

    def __post_init__(self) -> None:
        if not self.noise_multiplier >= 0 or math.isinf(self.noise_multiplier):
            raise ValueError(f"noise_multiplier must be a finite number >= 0, got "
                             f"{self.noise_multiplier}")
        if not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be positive, got {self.max_grad_norm}")

    def share(self, model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
              seed: int = 0) -> Gradient:
        from opacus.grad_sample.gsm_exp_weights import GradSampleModuleExpandedWeights
        from opacus.optimizers import DPOptimizer

        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            raise ValueError("DP-SGD needs each example's own gradient, which batch norm mixes "
                             "across the batch; attack dp_compatible(model) instead (batch norm "
                             "replaced by group norm)")
        parameters = [p for p in model.parameters() if p.requires_grad]
        # PyTorch's expanded weights, not hooks: hooks break on ResNet's in-place additions.
        wrapped = GradSampleModuleExpandedWeights(model)
        optimiser = DPOptimizer(
            torch.optim.SGD(parameters, lr=0.0), noise_multiplier=self.noise_multiplier,
            max_grad_norm=self.max_grad_norm, expected_batch_size=inputs.shape[0],
            generator=torch.Generator(device=inputs.device).manual_seed(seed))
        try:
            optimiser.zero_grad()
            classification_loss(wrapped(inputs), labels).backward()
            optimiser.pre_step()  # clip, sum, noise, average: the private gradient, in .grad
            return [p.grad.detach().clone() for p in parameters]
        finally:
            optimiser.zero_grad(set_to_none=True)  # the model is the attacker's too

    def transform(self, gradient: Gradient, generator: torch.Generator) -> Gradient:
        raise ValueError("DP-SGD clips each example's gradient, so it cannot defend an already "
                         "averaged gradient: put it first when composing defences")

    def text(self) -> str:
        return f"{self.name}:{self.noise_multiplier}" + (
            "" if self.max_grad_norm == 1.0 else f":{self.max_grad_norm}")


@dataclass(frozen=True)
class Composed(Defence):
    """Several defences, applied left to right."""

    parts: tuple[Defence, ...]
    name: ClassVar[str] = "+"

    def __post_init__(self) -> None:
        if any(isinstance(part, DPSGD) for part in self.parts[1:]):
            raise ValueError("DP-SGD computes the gradient from the examples, so it must come "
                             "first when composing defences")

    def share(self, model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
              seed: int = 0) -> Gradient:
        gradient = self.parts[0].share(model, inputs, labels, seed)
        generator = torch.Generator(device=inputs.device).manual_seed(seed + 1)
        for part in self.parts[1:]:
            gradient = part.transform(gradient, generator)
        return gradient

    def transform(self, gradient: Gradient, generator: torch.Generator) -> Gradient:
        for part in self.parts:
            gradient = part.transform(gradient, generator)
        return gradient

    def text(self) -> str:
        return "+".join(part.text() for part in self.parts)


_STRENGTH = {GaussianNoise: "variance", LaplacianNoise: "variance", MagnitudePruning: "keep",
             ReducedPrecision: "precision", DPSGD: "noise_multiplier"}


DEFENCE_NAMES = {cls.name: cls for cls in _STRENGTH}
"""Each defence by the word that names it in text."""


def parse_defence(text: str) -> Defence:
    """A defence from text: ``name:strength``, several joined by ``+``.

    Names: ``gaussian:VARIANCE``, ``laplacian:VARIANCE``, ``prune:KEEP``,
    ``precision:float16|bfloat16|int8``, ``dpsgd:NOISE_MULTIPLIER[:MAX_GRAD_NORM]``.
    """
    parts = []
    for piece in text.split("+"):
        name, _, strength = piece.strip().partition(":")
        if name == "batch":  # the client's batch size, not a change of its gradient
            raise ValueError(f"{piece!r} is not a change of the gradient: attack a batch of "
                             "images (several --image, or run_attack(model, [images])), or give "
                             "it to the protection module (protection.split_batch)")
        if name not in DEFENCE_NAMES or not strength:
            raise ValueError(f"cannot read the defence {piece!r}; write name:strength with a name "
                             f"from {', '.join(DEFENCE_NAMES)}, e.g. gaussian:1e-3 or prune:0.1")
        cls = DEFENCE_NAMES[name]
        if cls is ReducedPrecision:
            parts.append(cls(strength))
            continue
        try:
            numbers = [float(word) for word in strength.split(":")]
            parts.append(cls(*numbers))
        except (TypeError, ValueError) as error:
            raise ValueError(f"cannot read the defence {piece!r}: {error}") from error
    return parts[0] if len(parts) == 1 else Composed(tuple(parts))


def dp_compatible(model: nn.Module) -> nn.Module:
    """``model`` with what DP-SGD cannot handle replaced (Opacus's ``ModuleValidator.fix``:
    batch norm becomes group norm). A new model; the original is untouched."""
    from opacus.validators import ModuleValidator

    return ModuleValidator.fix(model)


def dp_epsilon(noise_multiplier: float, sample_rate: float, steps: int,
               delta: float = 1e-5) -> float:
    """The privacy budget epsilon that ``steps`` DP-SGD steps spend (Opacus's RDP accountant).

    Args:
        noise_multiplier: the DP-SGD noise, relative to the clipping norm.
        sample_rate: the chance that an example is in a given batch (batch size / dataset size).
        steps: how many noisy gradients were shared.
        delta: the probability with which the guarantee may fail.
    """
    from opacus.accountants import RDPAccountant

    if not 0 < sample_rate <= 1 or steps < 1:
        raise ValueError("sample_rate must be in (0, 1] and steps at least 1")
    if noise_multiplier == 0:
        return math.inf
    accountant = RDPAccountant()
    for _ in range(steps):
        accountant.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate)
    with warnings.catch_warnings():
        # Opacus warns when tiny noise puts the best order at the edge of its grid: the bound
        # is then loose, but it is an epsilon in the thousands or more, no guarantee either way.
        warnings.filterwarnings("ignore", "Optimal order is the smallest alpha")
        return accountant.get_epsilon(delta=delta)


def release_noise(epsilon: float, delta: float = 1e-5) -> float:
    """The DP-SGD noise multiplier at which one shared step that certainly includes the
    client's examples (sampled with probability 1) spends ``epsilon`` (Opacus's RDP
    accountant): the inverse of :func:`dp_epsilon` for one release.

    Raises:
        ValueError: for an epsilon that is not positive.
    """
    from opacus.accountants.utils import get_noise_multiplier

    if not epsilon > 0:
        raise ValueError(f"epsilon is a positive privacy budget, not {epsilon}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Optimal order is the (smallest|largest) alpha")
        return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                          sample_rate=1.0, steps=1, accountant="rdp"))
