"""Where the attack runs: the GPU when there is one (Colab), else the CPU."""

from __future__ import annotations

import torch

__all__ = ["pick_device"]


def pick_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given (``"cpu"``, ``"cuda"``), otherwise CUDA when available, else the CPU.

    Raises:
        ValueError: when CUDA is asked for and there is no GPU.
    """
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(prefer)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("no CUDA GPU is available here; use device 'cpu' (or a Colab GPU runtime)")
    return device
