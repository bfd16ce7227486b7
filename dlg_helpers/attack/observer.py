"""What the attack may ask of the truth it tries to recover: an interface, so that the attack
imports nothing that judges it.

The attack hands each iterate to an observer for the record (never to steer) and files what it
found with it at the end. :class:`~dlg_helpers.measures.observer.GroundTruth` is the observer
the victim provides; a test can pass any object with these methods.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from .trace import AttackResult

__all__ = ["Observer"]


class Observer(Protocol):
    """The private batch, seen from the attack: it measures, files and recognises, and never
    shows its pixels or labels."""

    def measure(self, image: torch.Tensor) -> tuple[float, float]:
        """How close ``image`` (pixels in [0, 1]) is to the private batch: the MSE and the
        aligned MSE, for the attack's trace."""
        ...

    def result(self, **found: Any) -> AttackResult:
        """The attack's findings (every field of :class:`AttackResult` but the truth and its
        MSE) filed with the private batch and the reconstruction's MSE to it."""
        ...

    def state(self) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps to recognise this batch again."""
        ...

    def matches(self, state: dict[str, Any]) -> bool:
        """Whether a checkpoint's :meth:`state` is of this very batch."""
        ...
