"""The victim models, registered by name with the input each one expects.

Every entry carries what the report's Table 2 says about the model (image size, value range,
normalisation, batch size), so a chapter asks for ``"lenet"`` and never restates those settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = ["Normalisation", "ModelSpec", "LeNet", "KnownMaskDropout", "register_model", "model_names", "get_spec",
           "build_model", "count_parameters", "IMAGENET"]


@dataclass(frozen=True)
class Normalisation:
    """Per-channel ``(pixel - mean) / std`` applied before the model sees an image in [0, 1]."""

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def _shape(self, values: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
        return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)

    def to_model_input(self, pixels: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] pixels of shape (B, 3, H, W) to what the model takes."""
        return (pixels - self._shape(self.mean, pixels)) / self._shape(self.std, pixels)

    def to_pixels(self, model_input: torch.Tensor) -> torch.Tensor:
        """Invert :meth:`to_model_input`, giving pixels on the [0, 1] scale (not clipped)."""
        return model_input * self._shape(self.std, model_input) + self._shape(self.mean, model_input)

    def input_bounds(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-channel ``(low, high)`` model inputs of pixels 0 and 1, shaped (1, 3, 1, 1)
        with the dtype and device of ``like``: an input clamped between them is a valid image."""
        return self.to_model_input(torch.zeros_like(like[:1, :, :1, :1])), \
            self.to_model_input(torch.ones_like(like[:1, :, :1, :1]))


@dataclass(frozen=True)
class ModelSpec:
    """One registered model and the input it expects (a row of the report's Table 2).

    Attributes:
        name: registry key, e.g. ``"lenet"``.
        builder: makes the network for ``(num_classes, image_size)``, weights from the global
            RNG (networks with a global pooling ignore the size).
        image_size: side of the square input image in pixels.
        normalisation: how [0, 1] pixels become model input.
        num_classes: outputs of the classifier.
        batch_size: the batch the report attacked.
        min_batch_size: smallest batch the model accepts in training mode.
        reported_parameters: the parameter count the report states, for comparison.
        description: one line for tables and ``--help``.
        display: the model's name in prose and tables, e.g. ``"ResNet-18"`` (default: ``name``).
        activation: what its activations compute, for a settings table.
        batch_norm: the mode the victim's batch norm runs in, ``"training"`` (as the report's
            clients train) or ``"evaluation"`` (running statistics; any batch works).
    """

    name: str
    builder: Callable[[int, int], nn.Module]
    image_size: int
    normalisation: Normalisation
    num_classes: int
    batch_size: int = 1
    min_batch_size: int = 1
    reported_parameters: int | None = None
    description: str = ""
    batch_norm: str = "training"
    display: str = ""
    activation: str = "Sigmoid"

    def __post_init__(self) -> None:
        if not self.display:
            object.__setattr__(self, "display", self.name)
        if self.batch_norm not in ("training", "evaluation"):
            raise ValueError(f"batch_norm must be 'training' or 'evaluation', got {self.batch_norm!r}")


class LeNet(nn.Module):
    """The network of the original DLG code (Zhu et al. 2019), not LeCun's LeNet-5.

    Three stride-2/2/1 convolutions with Sigmoid activations and one linear layer. Sigmoid rather
    than ReLU because the attack differentiates the gradient, and ReLU's second derivative is zero
    almost everywhere. Every weight and bias is drawn from U(-0.5, 0.5), as in the original code.
    The linear layer sees 12 maps of a quarter of the image side (768 inputs at 32x32).
    """

    def __init__(self, num_classes: int = 100, image_size: int = 32,
                 activation: type[nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 12, kernel_size=5, padding=2, stride=2),
            activation(),
            nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=2),
            activation(),
            nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=1),
            activation(),
        )
        side = -(-image_size // 4)  # two stride-2 convolutions, each rounding up
        self.fc = nn.Linear(12 * side * side, num_classes)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -0.5, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).flatten(1))


class KnownMaskDropout(nn.Module):
    """Dropout whose mask the attacker knows: drawn from a fixed ``seed`` for each input shape,
    so the client's forward pass and every forward pass of the attacker's copy drop the same
    units. With :class:`torch.nn.Dropout` in training mode each pass draws a fresh mask, and
    the attacker's model is never quite the client's (Scheliga et al. 2023)."""

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"the dropout probability must be in [0, 1), got {p}")
        self.p, self.seed = p, seed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        # drawn on the CPU, so the mask is the same on every device (and the meta device that
        # counts operations, which has no generator)
        generator = torch.Generator().manual_seed(self.seed)
        keep = torch.rand(x.shape, generator=generator) >= self.p
        return x * keep.to(device=x.device, dtype=x.dtype) / (1 - self.p)


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (later chapters register their own architectures)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"a model named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def model_names() -> list[str]:
    """Names accepted by :func:`get_spec` and :func:`build_model`."""
    return sorted(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The registered :class:`ModelSpec` called ``name``.

    Raises:
        KeyError: for an unknown name, listing the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown model {name!r}; choose one of {', '.join(model_names())} "
            "or add your own with dlg_helpers.register_model"
        ) from None


def build_model(name: str, seed: int = 0, device: str | torch.device = "cpu",
                size: int | None = None) -> nn.Module:
    """Build registered model ``name`` with weights drawn reproducibly from ``seed``, for images
    of side ``size`` (None: the model's own), its batch norm in the spec's mode.

    The global RNG state is saved and restored, so building a model does not disturb any other
    random stream of the caller.
    """
    spec = get_spec(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = spec.builder(spec.num_classes, size or spec.image_size)
    model.train(spec.batch_norm == "training")
    return model.to(device)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters: the size of the gradient a client shares."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


IMAGENET = Normalisation(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def _torchvision(name: str, sigmoid: str = "every", **options: object
                 ) -> Callable[[int, int], nn.Module]:
    """A builder for torchvision model ``name`` with random weights and its ReLUs computing
    Sigmoid: ``"every"`` call, the ``"modules"`` only (the naive swap), or ``"none"``."""

    def build(num_classes: int, image_size: int) -> nn.Module:
        from torchvision import models

        from .activations import to_sigmoid

        network = getattr(models, name)(weights=None, num_classes=num_classes, **options)
        if sigmoid == "none":
            return network
        return to_sigmoid(network, functional=sigmoid == "every")

    return build


DROPOUT = 0.5
"""The dropout probability of the dropout control (the ResNet-18 variants with dropout)."""


def _resnet18_with_dropout(mask: str) -> Callable[[int, int], nn.Module]:
    """The Sigmoid ResNet-18 with dropout (:data:`DROPOUT`) before its classifier, drawing a
    ``"fresh"`` mask on every pass or the ``"known"`` one (:class:`KnownMaskDropout`)."""

    def build(num_classes: int, image_size: int) -> nn.Module:
        network = _torchvision("resnet18")(num_classes, image_size)
        resnet = network.network  # inside the wrapper that makes its ReLU calls Sigmoid
        layer = nn.Dropout(DROPOUT) if mask == "fresh" else KnownMaskDropout(DROPOUT)
        resnet.fc = nn.Sequential(layer, resnet.fc)
        return network

    return build


_LENET = {"image_size": 32, "normalisation": Normalisation(), "num_classes": 100,
          "reported_parameters": 60_000}

register_model(ModelSpec(
    name="lenet", builder=lambda classes, size: LeNet(classes, size), **_LENET,
    description="the original DLG LeNet: 3 Sigmoid convolutions and one linear layer",
    display="LeNet"))

register_model(ModelSpec(
    name="lenet_relu", builder=lambda classes, size: LeNet(classes, size, nn.ReLU), **_LENET,
    description="the DLG LeNet with ReLU instead of Sigmoid (a threat to validity)",
    display="LeNet with ReLU", activation="ReLU"))

# Table 2's large models. In training mode Inception-v3's auxiliary head applies batch norm to a
# 1x1 map, so with that head the smallest batch, and the report's, is 2.
# The variants after them measure the report's threats to validity: the original ReLU, batch
# norm in evaluation mode, and the naive swap that leaves Inception's functional ReLUs in place.
_AUX = {"aux_logits": True, "init_weights": True}
_NO_AUX = {"aux_logits": False, "init_weights": True}


_SWAPPED = "Sigmoid (every ReLU replaced)"
for (_name, _architecture, _size, _batch, _reported, _options, _display, _activation,
     _description) in (
    ("resnet18", "resnet18", 224, 1, 11_000_000, {}, "ResNet-18", _SWAPPED,
     "torchvision ResNet-18, every ReLU replaced by Sigmoid"),
    ("densenet121", "densenet121", 224, 1, 8_100_000, {}, "DenseNet-121", _SWAPPED,
     "torchvision DenseNet-121, every ReLU (modules and F.relu) replaced by Sigmoid"),
    ("inception_v3", "inception_v3", 299, 2, 6_000_000, _AUX, "Inception-v3", _SWAPPED,
     "torchvision Inception-v3 with its auxiliary classifier, every ReLU (modules and F.relu) "
     "replaced by Sigmoid"),
    ("inception_v3_noaux", "inception_v3", 299, 1, 6_000_000, _NO_AUX,
     "Inception-v3 without its auxiliary head", _SWAPPED,
     "Inception-v3 without the auxiliary classifier, so that a batch of one works"),
    ("resnet18_relu", "resnet18", 224, 1, 11_000_000, {"sigmoid": "none"},
     "ResNet-18 with ReLU", "ReLU (torchvision's own)",
     "torchvision ResNet-18 with its own ReLUs (a threat to validity)"),
    ("resnet18_eval", "resnet18", 224, 1, 11_000_000, {"batch_norm": "evaluation"},
     "ResNet-18, batch norm in evaluation mode", _SWAPPED,
     "the Sigmoid ResNet-18 with batch norm in evaluation mode (running statistics)"),
    ("inception_v3_eval", "inception_v3", 299, 1, 6_000_000,
     {**_NO_AUX, "batch_norm": "evaluation"}, "Inception-v3 in evaluation mode", _SWAPPED,
     "Inception-v3 (no auxiliary head) in evaluation mode: running batch-norm statistics and "
     "no dropout"),
    ("inception_v3_naive", "inception_v3", 299, 2, 6_000_000, {**_AUX, "sigmoid": "modules"},
     "Inception-v3, naive swap", "Sigmoid for the nn.ReLU modules only; F.relu calls stay ReLU",
     "Inception-v3 with only its nn.ReLU modules swapped: its F.relu calls stay ReLU"),
):
    _options = dict(_options)
    _batch_norm = str(_options.pop("batch_norm", "training"))
    register_model(ModelSpec(
        name=_name, builder=_torchvision(_architecture, **_options), image_size=_size,
        normalisation=IMAGENET, num_classes=1000, batch_size=_batch,
        min_batch_size=1 if _batch_norm == "evaluation" else _batch,
        reported_parameters=_reported, description=_description, batch_norm=_batch_norm,
        display=_display, activation=_activation,
    ))


# The dropout control: does a random dropout mask stop the attack, as the Inception-v3 chapter
# suspects? The same network with a fresh mask on every pass, with the client's mask known to
# the attacker, and in evaluation mode (no dropout), at the side of the ResNet-18 chapter.
for _name, _mask, _batch_norm, _display in (
        ("resnet18_dropout", "fresh", "training", "ResNet-18 with dropout, a fresh mask"),
        ("resnet18_dropout_known", "known", "training", "ResNet-18 with dropout, the mask known"),
        ("resnet18_dropout_eval", "fresh", "evaluation",
         "ResNet-18 with dropout, evaluation mode")):
    register_model(ModelSpec(
        name=_name, builder=_resnet18_with_dropout(_mask), image_size=64,
        normalisation=IMAGENET, num_classes=1000, reported_parameters=None,
        description=f"the Sigmoid ResNet-18 with dropout {DROPOUT} before its classifier: "
                    + _display.split(", ", 1)[1],
        batch_norm=_batch_norm, display=_display, activation=_SWAPPED))
