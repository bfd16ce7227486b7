"""The report's figures."""

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import dlg_helpers as dlg  # noqa: E402
from dlg_helpers import plotting  # noqa: E402


@pytest.fixture(scope="module")
def result():
    return dlg.run_attack("lenet", "cat", dlg.AttackConfig(steps=12, snapshot_every=4,
                                                          progress=False), device="cpu")


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and (ax.images or ax.lines or ax.patches)]


def test_evolution_grid_has_every_snapshot_best_and_truth(result):
    fig = plotting.plot_evolution(result, columns=3)
    assert len(_visible_axes(fig)) == len(result.snapshots) + 2
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)  # opaque white: readable in dark mode
    plt.close(fig)


def test_evolution_needs_snapshots():
    result = dlg.run_attack("lenet", "cat", dlg.AttackConfig(steps=1, snapshot_every=0,
                                                            progress=False), device="cpu")
    with pytest.raises(ValueError, match="snapshot_every"):
        plotting.plot_evolution(result)


def test_mse_curves_one_line_per_run_on_a_log_axis(result):
    fig = plotting.plot_mse_curves({"a": result, "b": result.history})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.lines) == 3  # two runs and the threshold
    plt.close(fig)
    panels = plotting.plot_mse_panels({"left": {"a": result}, "right": {"b": result}})
    assert len(panels.axes) == 2
    plt.close(panels)


def test_images_side_by_side_and_label_gradient():
    fig = plotting.plot_images([torch.rand(1, 3, 8, 8), torch.rand(3, 8, 8)], ["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    plt.close(fig)
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        plotting.plot_images([torch.rand(3, 4, 4)] * 2, ["a"])
    with pytest.raises(ValueError, match="no images to show"):
        plotting.plot_images([], [])
    grid = plotting.plot_images([torch.rand(3, 4, 4)] * 5, list("abcde"), columns=3)
    assert len(grid.axes) == 6 and not grid.axes[-1].axison  # two rows, the spare one blank
    assert [ax.get_title() for ax in grid.axes[:5]] == list("abcde")
    plt.close(grid)
    bars = plotting.plot_label_gradient(torch.linspace(-1, 1, 10), 0)
    assert len(bars.axes[0].patches) == 10
    plt.close(bars)


def test_attack_rows_show_the_private_image_then_each_attack_through_its_view(result):
    dark = lambda image: image * 0  # noqa: E731 - a view whose effect is easy to see
    fig = plotting.plot_attack_rows({"LeNet": {"DLG": result, "other": result},
                                     "again": {"DLG": result, "other": result}},
                                    views={("LeNet", "DLG"): dark})
    assert [ax.get_title() for ax in fig.axes] == ["LeNet: private", "DLG", "other",
                                                   "again: private", "DLG", "other"]
    private, viewed, plain = (ax.images[0].get_array() for ax in fig.axes[:3])
    assert np.allclose(private, result.truth[0].permute(1, 2, 0).numpy())
    assert viewed.max() == 0 and plain.max() > 0
    assert fig.axes[4].images[0].get_array().max() > 0  # the view is the LeNet row's only
    plt.close(fig)
    with pytest.raises(ValueError, match="same attacks"):
        plotting.plot_attack_rows({"a": {"DLG": result}, "b": {"other": result}})
    with pytest.raises(ValueError, match="no attack results"):
        plotting.plot_attack_rows({"a": {}})
    with pytest.raises(ValueError, match="no images to show"):
        plotting.plot_attack_rows({})


def test_styling_keeps_settings_changed_while_drawing(monkeypatch):
    # IPython's inline backend turns interactive mode on when the first figure is made; a style
    # context that restored every setting would turn it off again and hide all later figures.
    was_interactive = matplotlib.is_interactive()
    real_subplots = plt.subplots

    def subplots_as_ipython_does(*args, **kwargs):
        matplotlib.interactive(True)
        return real_subplots(*args, **kwargs)

    monkeypatch.setattr(plt, "subplots", subplots_as_ipython_does)
    try:
        fig = plotting.plot_images([torch.rand(3, 4, 4)], ["a"])
        assert matplotlib.is_interactive()
        assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
        plt.close(fig)
    finally:
        matplotlib.interactive(was_interactive)


def test_curves_of_another_metric_and_an_unknown_one(result):
    fig = plotting.plot_mse_panels({"plain": {"a": result}, "aligned": {"a": result}},
                                   metrics=["mse", "aligned_mse"])
    left, right = fig.axes
    assert list(left.lines[0].get_ydata()) == [r.mse for r in result.history]
    assert list(right.lines[0].get_ydata()) == [r.aligned_mse for r in result.history]
    assert right.get_ylabel() == plotting.METRIC_LABELS["aligned_mse"]
    plt.close(fig)
    with pytest.raises(ValueError, match="unknown metric 'psnr'"):
        plotting.plot_mse_curves({"a": result}, metric="psnr")
    with pytest.raises(ValueError, match="2 panels but 1 metrics"):
        plotting.plot_mse_panels({"x": {"a": result}, "y": {"a": result}}, metrics=["mse"])


def test_evolution_applies_the_view_to_reconstructions_only(result):
    fig = plotting.plot_evolution(result, columns=3, every=2,
                                  view=lambda image: torch.zeros_like(image))
    shown = [ax for ax in _visible_axes(fig)]
    assert len(shown) == len(list(result.snapshots)[::2]) + 2
    assert all(ax.images[0].get_array().max() == 0 for ax in shown[:-1])
    assert shown[-1].images[0].get_array().max() > 0  # the truth, as it is
    plt.close(fig)


def test_evolution_follows_one_image_of_a_batch_whatever_its_order():
    pair = dlg.run_attack("lenet", ["cat", "coffee"], dlg.AttackConfig(
        steps=2, snapshot_every=1, progress=False), device="cpu")
    swapped = dlg.AttackResult(**{**vars(pair), "reconstruction": pair.truth[[1, 0]],
                                  "snapshots": {0: pair.truth[[1, 0]]}})
    fig = plotting.plot_evolution(swapped, index=1)
    frames = [ax.images[0].get_array() for ax in _visible_axes(fig)]
    assert all((frame == frames[-1]).all() for frame in frames)  # all show coffee, as paired
    plt.close(fig)
    with pytest.raises(ValueError, match="index 2 is outside the batch of 2"):
        plotting.plot_evolution(pair, index=2)


def test_animation_is_a_self_contained_player_with_a_slider(result):
    page = plotting.animate_evolution(result).data
    frames = len(result.snapshots) + 1  # every snapshot, then the best iterate
    assert page.count("data:image/jpeg;base64") == frames
    assert 'type="range"' in page and "<script" in page  # plays with no kernel
    assert plt.get_fignums() == []  # the figure is closed: no stray static copy
    with pytest.raises(ValueError, match="index 1 is outside the batch of 1"):
        plotting.animate_evolution(result, index=1)


def test_privacy_utility_has_a_panel_per_attack_and_a_line_per_family():
    medians = [{"attack": attack, "defence": d, "family": d.split(":")[0], "strength":
                d.partition(":")[2], "likeness": s}
               for attack in ("DLG", "IG")
               for d, s in (("none", 0.9), ("gaussian:0.01", 0.5), ("gaussian:0.1", 0.1),
                            ("prune:0.1", 0.7))]
    costs = [{"defence": d, "accuracy": a, "epsilon": None}
             for d, a in (("none", 0.98), ("gaussian:0.01", 0.9), ("gaussian:0.1", 0.6),
                          ("prune:0.1", 0.97))]
    fig = plotting.plot_privacy_utility(medians, costs, threshold=0.3)
    assert [ax.get_title() for ax in fig.axes] == ["DLG", "IG"]
    lines = {line.get_label(): line for line in fig.axes[0].lines}
    assert list(lines["gaussian (to 0.1)"].get_xdata()) == [0.9, 0.6]  # to its strongest
    assert list(lines["gaussian (to 0.1)"].get_ydata()) == [0.5, 0.1]
    assert {"no defence", "prune (to 0.1)"} <= set(lines)
    assert len(fig.axes[0].texts) == 0  # no labels beside points, which pile up near zero
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)  # opaque: readable in dark mode


def test_bands_draw_the_median_while_every_run_goes_and_the_range_beyond(result):
    import numpy as np

    short = dlg.run_attack("lenet", "coffee", dlg.AttackConfig(steps=5, progress=False),
                           device="cpu")
    fig = plotting.plot_mse_bands({"lenet": [result, short], "empty": []}, steps=12)
    ax = fig.axes[0]
    median, survivors, threshold = ax.lines
    assert ax.get_yscale() == "log" and len(ax.collections) == 1  # one shaded range
    assert median.get_label() == "lenet (median of 2)"
    assert np.isnan(median.get_ydata()[short.steps + 1:]).all()  # the short run had stopped
    both = np.median([[r.mse for r in run.history if r.step == 3][-1] for run in (result, short)])
    assert median.get_ydata()[3] == pytest.approx(both)
    assert survivors.get_linestyle() == "--"  # the long run alone, after the short one stopped
    assert survivors.get_ydata()[12] == pytest.approx(
        [r.mse for r in result.history if r.step == 12][-1])
    (band,) = ax.collections
    top = band.get_paths()[0].vertices[:, 1].max()
    assert top >= max(r.mse for r in result.history if r.step == 12)  # the range goes on
    plt.close(fig)
    with pytest.raises(ValueError, match="unknown metric 'psnr'"):
        plotting.plot_mse_bands({"lenet": [result]}, metric="psnr")


def test_the_likeness_ladder_shows_truth_reconstruction_and_thumbnail_for_each_rung():
    cat = dlg.load_image("cat", 32).pixels
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    fig = plotting.plot_likeness_ladder([("LeNet, cat", noise, cat, 0.1, 40, 0.4),
                                         ("LeNet, cat", cat, cat, 1.0, 1, 0.4)])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    floor = f"needs {dlg.criteria.LEAK_FLOOR:.2f}"  # a photograph's look-alike is below the floor
    assert titles == ["LeNet, cat", "LeNet, cat", f"likeness 0.10, rank 40\n{floor}",
                      f"likeness 1.00, rank 1\n{floor}",
                      "thumbnail: does not leak", "thumbnail: leaks"]
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)


def test_dp_sgds_price_is_drawn_against_epsilon():
    grid = [{"lr": lr, "epsilon": e, "accuracy": a} for lr, e, a in (
        (0.1, 1.0, 0.3), (2.0, 1.0, 0.5), (0.1, 8.0, 0.6), (2.0, 8.0, 0.7))]
    best = [{"epsilon": 1.0, "accuracy": 0.5, "accuracy_sd": 0.05},
            {"epsilon": 8.0, "accuracy": 0.7, "accuracy_sd": 0.02}]
    fig = plotting.plot_accuracy_against_epsilon(grid, best, undefended=0.92)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.lines]
    assert "a setting, learning rate 0.1" in labels and "no DP-SGD" in labels


def test_a_divergence_spike_is_cut_off_and_the_axis_says_so(make_result):
    from dlg_helpers.book.plotting import plot_mse_curves

    calm = make_result([1.0, 0.5, 0.1, 0.05, 0.01] * 4)
    spiked = make_result([1.0, 1e12] + [0.1, 0.05, 0.01] * 6)  # one start diverged once
    figure = plot_mse_curves({"calm": calm})
    assert not any("cut off" in t.get_text() for t in figure.axes[0].texts)
    plt.close(figure)
    figure = plot_mse_curves({"calm": calm, "spiked": spiked})
    axis = figure.axes[0]
    assert axis.get_ylim()[1] < 1e6 and any("cut off" in t.get_text() for t in axis.texts)
    plt.close(figure)
