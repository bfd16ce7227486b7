"""The landing page's figure comes from the stored runs."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image

from dlg_helpers.book.landing import draw_landing_figure

ROOT = Path(__file__).resolve().parents[2]


def test_the_landing_figure_is_drawn_from_the_stored_runs_and_committed(tmp_path):
    drawn = draw_landing_figure(ROOT / "results", tmp_path / "landing.png")
    assert plt.get_fignums() == []  # the figure is written and closed
    width, height = Image.open(drawn).size
    assert width > 2.5 * height  # three panels side by side
    assert (ROOT / "images" / "landing.png").is_file()
    assert "images/landing.png" in (ROOT / "chapters" / "intro.md").read_text()
