"""The victim: a client holding a private batch. It computes the update it shares; its private
data reach the metrics only through its :class:`~dlg_helpers.measures.observer.GroundTruth`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from ..measures.observer import GroundTruth
from .defences import Defence
from .gradients import shared_gradient
from .images import load_image
from .local_steps import LocalSteps
from .models import Normalisation, build_model, get_spec
from .training import trained_weights

__all__ = ["SharedUpdate", "Victim", "victim", "trained_model", "model_cache"]


@dataclass(frozen=True)
class SharedUpdate:
    """What a client sends: the gradient of its batch's loss (after its defence) and what the
    protocol makes public with it.

    Attributes:
        gradient: one tensor per trainable parameter of the shared model.
        examples: how many examples the gradient averages over (federated learning sends it).
        input_shape: the shape of the batch of model inputs, ``(examples, 3, H, W)``: the
            example count and the model's input size, both public.
        defence: the defence the protocol applies (``Defence.text()``; None: none).
        local_steps: the local SGD the server asked for when the client took several steps
            (federated averaging): ``gradient`` is then the weights' change divided by the
            learning rate (:func:`~dlg_helpers.client.local_steps.local_update`), and an attack
            simulates the steps. None: one step, ``gradient`` is the batch's gradient.
    """

    gradient: list[torch.Tensor]
    examples: int
    input_shape: tuple[int, ...]
    defence: str | None = None
    local_steps: LocalSteps | None = None


class Victim:
    """A client holding private images and labels, about to share the gradient of their loss.

    Args:
        model: the shared model (train or eval mode as the client uses it); its device is used.
        pixels: the private images in [0, 1], shape (B, 3, H, W).
        labels: their class indices.
        normalisation: how pixels become model input (the model's ``ModelSpec.normalisation``).
        defence: what the client does to its gradient before sharing it (None: nothing).
        noise_seed: the seed of the defence's randomness.

    Raises:
        ValueError: for pixels of another shape or outside [0, 1].
    """

    def __init__(self, model: nn.Module, pixels: torch.Tensor,
                 labels: torch.Tensor | list[int] | int,
                 normalisation: Normalisation = Normalisation(),
                 defence: Defence | None = None, noise_seed: int = 0) -> None:
        if pixels.dim() != 4 or pixels.shape[1] != 3:
            raise ValueError(
                f"pixels must have shape (B, 3, H, W), got {tuple(pixels.shape)}; "
                "use dlg_helpers.load_image(...).pixels")
        if pixels.min() < 0 or pixels.max() > 1:
            raise ValueError(
                f"pixels must lie in [0, 1], got [{float(pixels.min()):.3g}, "
                f"{float(pixels.max()):.3g}]; pass unnormalised images and the model's "
                "normalisation")
        device = next(model.parameters()).device
        self.model = model
        self.normalisation = normalisation
        self.defence = defence
        self.noise_seed = noise_seed
        self.pixels = pixels.detach().to(device)
        self.labels = torch.as_tensor(labels, device=device).reshape(-1).long()
        self.inputs = normalisation.to_model_input(self.pixels)

    def share(self) -> SharedUpdate:
        """The update this client sends: its (defended) gradient and the public facts."""
        gradient = (shared_gradient(self.model, self.inputs, self.labels) if self.defence is None
                    else self.defence.share(self.model, self.inputs, self.labels,
                                            seed=self.noise_seed))
        return SharedUpdate(gradient=gradient, examples=self.pixels.shape[0],
                            input_shape=tuple(self.inputs.shape),
                            defence=None if self.defence is None else self.defence.text())

    def ground_truth(self) -> GroundTruth:
        """The private batch, for the metrics (the attack never sees it)."""
        return GroundTruth(self.pixels, self.labels)


def trained_model(model: str, seed: int = 0, *, size: int | None = None,
                  device: str | torch.device = "cpu", trained_steps: int = 0) -> nn.Module:
    """Registered ``model`` with the random weights of ``seed``, after ``trained_steps`` SGD
    steps on the digits (:func:`~dlg_helpers.client.training.trained_weights`; 0: its random
    weights, as the report)."""
    network = build_model(model, seed=seed, device=device, size=size)
    if trained_steps:
        network.load_state_dict(trained_weights(model, trained_steps, seed)
                                .weights[trained_steps])
    return network


def model_cache(model: str, *, size: int | None = None, device: str | torch.device = "cpu"
                ) -> Callable[[int, int], nn.Module]:
    """``models(seed, trained_steps)``: registered ``model`` built once for each weights seed
    and training length (:func:`trained_model`), so that the clients that receive the same
    weights share one model, as a server's clients do."""
    return cache(lambda seed, trained_steps: trained_model(
        model, seed, size=size, device=device, trained_steps=trained_steps))


def victim(model: str, image: str | Sequence[str], seed: int = 0, size: int | None = None,
           defence: Defence | None = None, *, model_seed: int | None = None,
           label: int | None = None, device: str | torch.device = "cpu",
           trained_steps: int = 0, network: nn.Module | None = None) -> Victim:
    """A client of registered ``model`` holding shipped ``image`` (or a batch of them) at side
    ``size`` (None: the model's own), defending its gradient with ``defence`` (its noise seeded
    with ``seed``, as every stored run was made): the client whose gradient is attacked.

    Args:
        model_seed: the seed of the model's weights (None: ``seed``).
        label: a class index for every image instead of each image's own.
        device: where the client computes.
        trained_steps: SGD steps on the digits before the update is shared (0: random weights).
        network: the model itself, already built (the one model a server sends to many
            clients; then ``model_seed``, ``device`` and ``trained_steps`` are its own).
    """
    spec = get_spec(model)
    if network is None:
        network = trained_model(model, seed if model_seed is None else model_seed, size=size,
                                device=device, trained_steps=trained_steps)
    target = next(network.parameters()).device
    samples = [load_image(name, size or spec.image_size, label=label)
               for name in ([image] if isinstance(image, str) else image)]
    return Victim(network, torch.cat([sample.pixels for sample in samples]).to(target),
                  [sample.label for sample in samples], spec.normalisation, defence,
                  noise_seed=seed)
