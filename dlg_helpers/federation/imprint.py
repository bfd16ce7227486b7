"""A malicious server's model: the imprint module of "Robbing the Fed" (Fowl et al., 2022).

The server puts a small block in front of the model it sends. Its first layer has ``bins``
rows that all measure the same thing, an image's mean brightness, each with its own threshold
(bias), followed by a ReLU; its second layer adds the bins back onto the image through equal
columns, so every bin passes on the same gradient. For one image ``x`` with brightness
``m(x)``, bin ``i`` is active when ``m(x) > t_i``, and then its weight gradient is ``s(x) x``
and its bias gradient ``s(x)`` for one number ``s(x)``. Summed over a batch (or over every
client's batch, as secure aggregation sums them), the difference between two neighbouring bins
holds only the images whose brightness falls between their thresholds; when that is a single
image, dividing the weight difference by the bias difference gives the image back exactly.
Nothing is optimised: it is arithmetic on the aggregate, so a large batch or many clients only
dilute it by filling bins with more than one image.

In Flower the code a client runs, model included, comes in the app bundle that whoever starts
the run (``flwr run``) submits: the server's side chooses the architecture as well as the
weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import torch
from torch import nn

__all__ = ["Imprint", "ImprintBlock", "imprinted_model", "recover_images", "alone_in_bins",
           "equal_bins_estimate", "recovered_exactly", "recovery_grid"]


@dataclass(frozen=True)
class Imprint:
    """The imprint the server inserts.

    Attributes:
        bins: rows of the measuring layer (more bins separate more images).
        mean, std: the brightness (mean model input) the server expects of client images,
            from public data of their kind; the thresholds are that normal law's quantiles,
            so that each bin is equally likely to catch an image.
    """

    bins: int = 128
    mean: float = 0.45
    std: float = 0.12

    def thresholds(self) -> torch.Tensor:
        """The bins' brightness thresholds, ascending."""
        law = NormalDist(self.mean, self.std)
        return torch.tensor([law.inv_cdf((i + 1) / (self.bins + 1)) for i in range(self.bins)])


class ImprintBlock(nn.Module):
    """``x + back(relu(measure(x)))`` for model inputs ``x`` of shape ``(3, side, side)``,
    with the server's weights (:class:`Imprint`)."""

    def __init__(self, imprint: Imprint, side: int) -> None:
        super().__init__()
        size = 3 * side * side
        self.measure = nn.Linear(size, imprint.bins)
        self.back = nn.Linear(imprint.bins, size, bias=False)
        with torch.no_grad():
            self.measure.weight.fill_(1 / size)  # every row: the mean of the input
            self.measure.bias.copy_(-imprint.thresholds())
            # Equal columns pass the same gradient to every bin. Their size sets the size of
            # the bins' gradients, which must stand well above the rounding of the weights
            # they are read from (float32 weights, or SecAgg+'s quantisation): at 1/bins the
            # model behind sees the image brightened by at most the bins' mean activation.
            self.back.weight.fill_(1 / imprint.bins)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        bins = torch.relu(self.measure(inputs.flatten(1)))
        return inputs + self.back(bins).view_as(inputs)


def imprinted_model(model: nn.Module, imprint: Imprint, side: int) -> nn.Module:
    """``model`` with the server's imprint block in front of it."""
    return nn.Sequential(ImprintBlock(imprint, side), model)


def recover_images(weight_gradient: torch.Tensor, bias_gradient: torch.Tensor, side: int,
                   tolerance: float = 1e-12) -> torch.Tensor:
    """The inputs the imprint block's gradient gives back, one per pair of neighbouring bins
    that caught anything (and the last bin), shape ``(K, 3, side, side)`` in model-input units.

    A bin pair that caught exactly one image gives that image; one that caught several gives
    their weighted mean, a blend.

    Args:
        weight_gradient, bias_gradient: the gradients of the block's measuring layer (rows in
            ascending threshold order), from one client or from an aggregate.
        tolerance: bias differences below this (relative to the largest) count as empty bins.
    """
    weights = torch.cat([weight_gradient[:-1] - weight_gradient[1:], weight_gradient[-1:]])
    biases = torch.cat([bias_gradient[:-1] - bias_gradient[1:], bias_gradient[-1:]])
    caught = biases.abs() > tolerance * float(biases.abs().max().clamp_min(1e-30))
    images = weights[caught] / biases[caught, None]
    return images.view(-1, 3, side, side)


def alone_in_bins(inputs: torch.Tensor, imprint: Imprint) -> torch.Tensor:
    """For each model input of ``inputs`` (B, 3, H, W), whether it is the only one whose
    brightness falls between its two neighbouring thresholds: what the collisions leave the
    server to read back exactly (a bool per input)."""
    brightness = inputs.flatten(1).mean(1)
    slot = torch.bucketize(brightness, imprint.thresholds())
    return torch.bincount(slot, minlength=imprint.bins + 1)[slot] == 1


def equal_bins_estimate(bins: int, images: int) -> float:
    """The share of ``images`` alone in their bin if each fell into one of ``bins`` equally
    likely bins independently: the chance that none of the other ``images - 1`` shares its bin,
    ``(1 - 1/bins) ** (images - 1)``."""
    return (1 - 1 / bins) ** (images - 1)


def recovered_exactly(pixels: torch.Tensor, imprint: Imprint, model: str = "lenet",
                      seed: int = 0, threshold: float = 1e-3) -> torch.Tensor:
    """Whether the server reads each image of the batch ``pixels`` (B, 3, side, side) back
    exactly (MSE below ``threshold``) from the plain gradient of one batch through ``model``
    with the imprint in front: no federation, no secure aggregation, no rounding. A bool per
    image."""
    from ..client.models import build_model, get_spec

    side = pixels.shape[-1]
    network = imprinted_model(build_model(model, seed=seed, size=side), imprint, side)
    inputs = get_spec(model).normalisation.to_model_input(pixels)
    labels = torch.arange(len(pixels)) % get_spec(model).num_classes
    loss = nn.functional.cross_entropy(network(inputs), labels)
    block = network[0]
    weight, bias = torch.autograd.grad(loss, [block.measure.weight, block.measure.bias])
    found = get_spec(model).normalisation.to_pixels(recover_images(weight, bias, side))
    errors = ((found[None] - pixels[:, None]) ** 2).flatten(2).mean(2)
    return errors.min(1).values < threshold


def recovery_grid(pixels: torch.Tensor, bins: tuple[int, ...], images: tuple[int, ...],
                  mean: float, std: float, model: str = "lenet") -> list[dict[str, float]]:
    """Robbing the Fed's reach, measured on the plain gradient: for every number of ``bins``
    and every batch of the first ``images`` of ``pixels``, the share read back exactly
    (``exact``), the share alone in their bin (``alone``) and the equal-bins estimate
    (``estimate``), thresholds from the brightness law ``(mean, std)``."""
    from ..client.models import get_spec

    inputs = get_spec(model).normalisation.to_model_input(pixels)
    rows = []
    for count in bins:
        imprint = Imprint(count, mean, std)
        for size in images:
            batch = pixels[:size]
            rows.append({"bins": count, "images": size,
                         "exact": float(recovered_exactly(batch, imprint, model).float().mean()),
                         "alone": float(alone_in_bins(inputs[:size], imprint).float().mean()),
                         "estimate": equal_bins_estimate(count, size)})
    return rows
