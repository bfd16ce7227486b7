"""The success-rate chapter's figures: the image pool, rates with their intervals, and
reconstructions read back from a sweep's table."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..client.images import load_image
from ..client.pool import PoolImage
from .plotting import _styled, show_image

__all__ = ["plot_pool", "plot_rates", "plot_table_reconstructions", "decode_png"]

_PANEL = 1.35  # inches per thumbnail: about 130 px in the book's text column


def decode_png(data: bytes) -> torch.Tensor:
    """A thumbnail stored in a sweep's table as a (3, H, W) image in [0, 1]."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1)


def plot_pool(images: Sequence[PoolImage], per_source: int = 5, size: int = 32) -> Figure:
    """The first ``per_source`` images of each source in ``images``, one row per source."""
    by_source: dict[str, list[PoolImage]] = {}
    for image in images:
        by_source.setdefault(image.source, []).append(image)
    with _styled():
        figure, axes = plt.subplots(len(by_source), per_source, squeeze=False,
                                    figsize=(per_source * _PANEL, len(by_source) * (_PANEL + 0.2)))
        for row, (source, members) in zip(axes, by_source.items()):
            for ax, image in zip(row, members[:per_source]):
                show_image(ax, load_image(image.name, size).pixels,
                           f"{source}, label {image.label}")
        figure.tight_layout()
    return figure


def plot_rates(groups: Mapping[str, Sequence[Mapping[str, Any]]], what: str = "rate",
               title: str = "", counted: str = "attacks") -> Figure:
    """Rates with their 95 % intervals as points and bars, one colour per entry of ``groups``
    (each a list of :func:`~dlg_helpers.analysis.atlas.rates` or
    :func:`~dlg_helpers.analysis.atlas.level_rates` rows with a ``label`` and an ``n``), each
    group under its name; ``what`` is ``"rate"`` (leaks) or ``"label_rate"`` (labels right), a
    share of what is ``counted`` (``"attacks"``, ``"images"``)."""
    low, high = ("low", "high") if what == "rate" else ("label_low", "label_high")
    rows_in_all = sum(len(rows) for rows in groups.values())
    with _styled():
        # Narrow, each group named above its rows rather than in a legend beside them: the
        # figure is read at phone width too.
        figure, ax = plt.subplots(figsize=(4.6, 0.34 * rows_in_all + 0.45 * len(groups) + 0.9))
        position = 0.0
        ticks, labels = [], []
        for colour, (name, rows) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"],
                                        groups.items()):
            ax.text(0.0, position, name, transform=ax.get_yaxis_transform(), color=colour,
                    fontweight="bold", ha="left", va="center")
            position -= 0.9
            for row in rows:
                centre = 100 * row[what]
                ax.errorbar(centre, position, xerr=[[centre - 100 * row[low]],
                                                    [100 * row[high] - centre]],
                            fmt="o", color=colour, capsize=3)
                ticks.append(position)
                labels.append(f"{row['label']} (n = {row['n']})")
                position -= 1
            position -= 0.3
        ax.set_yticks(ticks, labels)
        ax.set_ylim(position + 0.5, 0.6)
        ax.set_xlim(-2, 102)
        ax.set_xlabel(f"share of {counted}, % (95 % interval)")
        if title:
            ax.set_title(title, loc="left")
        figure.tight_layout()
    return figure


def plot_table_reconstructions(rows: Sequence[Mapping[str, Any]], columns: int = 5,
                               size: int = 32, image: str = "images",
                               thumbnail: str = "reconstruction_png") -> Figure:
    """Private images (top of each pair) above their reconstructions as a sweep's table
    stored them, with each reconstruction's likeness, for ``rows`` of the table that carry a
    thumbnail (the columns ``image``, names joined by ``+``, and ``thumbnail``, PNG bytes)."""
    rows = [row for row in rows if row.get(thumbnail) is not None]
    if not rows:
        raise ValueError("none of these rows carries a stored reconstruction (the table keeps "
                         "thumbnails for the first seed only): choose rows of that seed")
    pairs = -(-len(rows) // columns)
    with _styled():
        figure, axes = plt.subplots(2 * pairs, columns, squeeze=False,
                                    figsize=(columns * _PANEL, pairs * 2 * (_PANEL + 0.15)))
        for ax in axes.flat:
            ax.set_axis_off()
        for index, row in enumerate(rows):
            top = axes[2 * (index // columns), index % columns]
            bottom = axes[2 * (index // columns) + 1, index % columns]
            name = row[image].split("+")[0]
            show_image(top, load_image(name, size).pixels,
                       name if len(name) <= 16 else name[:15] + "…")
            verdict = "leaks" if row["leaks"] else "does not leak"
            show_image(bottom, decode_png(row[thumbnail]),
                       f"{row['likeness']:.2f}, {verdict}")
        figure.tight_layout()
    return figure
