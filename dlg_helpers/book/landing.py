"""The landing page's figure: one private image and what DLG recovered of it from two models'
gradients, drawn from the stored runs.

``python -m dlg_helpers.book.landing`` writes ``images/landing.png`` (run from the repository's
top); the landing page is Markdown and shows the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt

from ..measures.metrics import standardise
from ..runs.record import load_result
from .plotting import plot_images

__all__ = ["draw_landing_figure"]

RUNS = {  # the stored runs shown, and how each reconstruction is titled
    "lenet/cat-seed0": "LeNet, 32×32",
    "resnet18/cat-seed0": "ResNet-18, 224×224\n(colours standardised)",
}


def draw_landing_figure(results_dir: str | Path = "results",
                        out: str | Path = "images/landing.png") -> Path:
    """Draw the private cat beside its reconstructions from the runs of :data:`RUNS` and save
    the figure as ``out`` (a PNG at 150 dpi, white behind the images so that it reads in dark
    mode too)."""
    runs = {title: load_result(Path(results_dir) / folder) for folder, title in RUNS.items()}
    first = next(iter(runs.values()))
    images = [first.truth] + [standardise(run.reconstruction) if "standardised" in title
                              else run.reconstruction for title, run in runs.items()]
    figure = plot_images(images, ["private image"] + list(runs), size=2.4)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=150, facecolor="white", bbox_inches="tight")
    plt.close(figure)  # written to the file; no copy left to show in a notebook
    return Path(out)


if __name__ == "__main__":  # pragma: no cover - a command for the book's author
    print(draw_landing_figure(*sys.argv[1:]))
