"""The ground truth, as the metrics see it: the attack hands over what it found and gets numbers
back; it never reads the private pixels or labels."""

from __future__ import annotations

from typing import Any

import torch

from ..attack.trace import AttackResult
from .metrics import aligned_mse, mse

__all__ = ["GroundTruth"]


class GroundTruth:
    """The private batch a victim holds, kept apart from the attack that tries to recover it.

    The attack calls :meth:`measure` on each iterate to record how close it is (for the trace,
    never to steer) and :meth:`result` to file what it found beside the truth.
    """

    def __init__(self, pixels: torch.Tensor, labels: torch.Tensor) -> None:
        self._pixels = pixels.detach()
        self._labels = labels.detach().reshape(-1).long()

    def measure(self, image: torch.Tensor) -> tuple[float, float]:
        """The MSE of ``image`` (pixels in [0, 1]) to the private batch, and the aligned MSE
        (:func:`~dlg_helpers.measures.metrics.aligned_mse`)."""
        return mse(image, self._pixels), aligned_mse(image, self._pixels)

    def result(self, **found: Any) -> AttackResult:
        """The attack's findings (every field of :class:`AttackResult` but the truth and its
        MSE) filed with the private batch, its labels and the reconstruction's MSE."""
        return AttackResult(truth=self._pixels.cpu(), label_true=self._labels.tolist(),
                            final_mse=mse(found["reconstruction"].cpu(), self._pixels.cpu()), **found)

    def state(self) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps to recognise this batch again."""
        return {"truth": self._pixels.cpu(), "label_true": self._labels.cpu()}

    def matches(self, state: dict[str, Any]) -> bool:
        """Whether a checkpoint's :meth:`state` is of this very batch."""
        return (torch.equal(state["truth"], self._pixels.cpu())
                and torch.equal(state["label_true"], self._labels.cpu()))
