"""The federation chapter's figures: reconstruction quality against the clients' local work,
from the stored FedAvg measurement."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..analysis.atlas import rates
from ..runs.federation_plan import MULTI_STEP, SINGLE_STEP
from ..measures.criteria import LEAK_FLOOR
from .plotting import _styled

__all__ = ["plot_fedavg"]


def plot_fedavg(frame: Any) -> Figure:
    """Median likeness (95 % interval) against local epochs, one panel per local batch size,
    for the attack that simulates the client's steps and the one that assumes a single step;
    the dashed line is the likeness from which a reconstruction can leak its image."""
    batches = sorted(frame["batch"].unique())
    found = {(g["epochs"], g["batch"], g["attack"]): g
             for g in rates(frame, by=("epochs", "batch", "attack"))}
    epochs = sorted(frame["epochs"].unique())
    with _styled():
        figure, axes = plt.subplots(1, len(batches), sharey=True, squeeze=False,
                                    figsize=(2.6 * len(batches) + 0.6, 3.2))
        for ax, batch in zip(axes[0], batches):
            for offset, (attack, marker) in zip((-0.08, 0.08), ((MULTI_STEP, "o"),
                                                                (SINGLE_STEP, "s"))):
                groups = [found[e, batch, attack] for e in epochs]
                centres = [g["likeness"] for g in groups]
                ax.errorbar([i + offset for i in range(len(epochs))], centres,
                            yerr=[[c - g["likeness_low"] for c, g in zip(centres, groups)],
                                  [g["likeness_high"] - c for c, g in zip(centres, groups)]],
                            fmt=f"{marker}-", capsize=3, label=attack)
            ax.axhline(LEAK_FLOOR, linestyle="--", linewidth=1, color="grey")  # below: nothing leaks
            ax.set_xticks(range(len(epochs)), [str(e) for e in epochs])
            ax.set_xlabel("local epochs")
            ax.set_title(f"local batch {batch}", fontsize=10)
        axes[0, 0].set_ylabel("median likeness (95 % interval)")
        axes[0, 0].set_ylim(-0.1, 1.05)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=2, frameon=False,
                      bbox_to_anchor=(0.5, -0.02))
        figure.tight_layout(rect=(0, 0.1, 1, 1))
    return figure
