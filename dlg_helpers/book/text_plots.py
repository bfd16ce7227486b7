"""The text chapter's figure: the spectrum of a block's gradient, whose cliff counts the tokens."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .plotting import _styled

__all__ = ["plot_spectrum"]


def plot_spectrum(gradient: torch.Tensor, rank: int) -> Figure:
    """The singular values of ``gradient`` (largest first, on a log scale), the first ``rank``
    (the span the tokens' inputs make) in one colour and the rest, float rounding, in another."""
    values = torch.linalg.svdvals(gradient.double()).cpu().numpy()
    with _styled():
        fig, ax = plt.subplots(figsize=(6.4, 2.8))
        ax.semilogy(range(1, rank + 1), values[:rank], ".", color="#0072B2",
                    label=f"the tokens' span ({rank})")
        ax.semilogy(range(rank + 1, len(values) + 1), values[rank:], ".", color="#D55E00",
                    label="rounding")
        ax.axvline(rank + 0.5, color="#1a1a1a", linewidth=0.8, linestyle=":")
        ax.set_xlabel("singular value, largest first")
        ax.set_ylabel("size")
        ax.legend(loc="upper right", fontsize=9)
        fig.tight_layout()
    return fig
