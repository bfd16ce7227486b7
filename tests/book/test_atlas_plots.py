"""The success-rate chapter's figures."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pytest
import torch

from dlg_helpers.book.atlas_plots import (decode_png, plot_pool, plot_rates,
                                          plot_table_reconstructions)
from dlg_helpers.client.pool import pool_sample
from dlg_helpers.runs.record import save_png


@pytest.fixture(autouse=True)
def _close_figures():
    """The figures drawn here are closed after each test: an open one leaks into the next
    module's figures."""
    yield
    plt.close("all")


def _row(label, rate, n=50):
    return {"label": label, "n": n, "rate": rate, "low": rate / 2, "high": (1 + rate) / 2}


def test_rates_are_drawn_with_their_intervals_under_their_groups_names():
    figure = plot_rates({"DLG": [_row("one image", 0.98), _row("batch of 2", 0.12)],
                         "iDLG": [_row("one image", 0.97)]}, counted="images")
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "one image (n = 50)", "batch of 2 (n = 50)", "one image (n = 50)"]
    assert ax.get_xlabel().startswith("share of images")
    assert [t.get_text() for t in ax.texts] == ["DLG", "iDLG"]  # each group named above it


def test_a_stored_thumbnail_decodes_to_the_image_it_was():
    image = torch.rand(1, 3, 8, 8)
    buffer = io.BytesIO()
    save_png(image, buffer)
    assert torch.allclose(decode_png(buffer.getvalue()), image[0], atol=1 / 255 + 1e-6)


def test_reconstructions_need_rows_that_carry_a_thumbnail():
    with pytest.raises(ValueError, match="first seed only"):
        plot_table_reconstructions([{"images": "cat", "reconstruction_png": None}])


def test_the_pool_figure_has_a_row_per_source():
    figure = plot_pool(pool_sample(60), per_source=2, size=16)
    assert len(figure.axes) == 3 * 2
