"""The live explorer."""

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import dlg_helpers as dlg  # noqa: E402
from dlg_helpers.book.explorer import explore, explorer_figure  # noqa: E402


@pytest.fixture(scope="module")
def runs():
    config = dlg.AttackConfig(steps=6, snapshot_every=2, progress=False)
    return {"cat": dlg.run_attack("lenet", "cat", config, device="cpu"),
            "coffee": dlg.run_attack("lenet", "coffee", config, device="cpu")}


def test_figure_marks_the_chosen_step_on_the_curve(runs):
    result = runs["cat"]
    fig = explorer_figure(result, 4, metric="aligned_mse")
    truth_ax, image_ax, curve_ax = fig.axes
    assert image_ax.get_title() == "step 4"
    marker = curve_ax.lines[1]
    assert list(marker.get_xdata()) == [4]
    assert list(marker.get_ydata()) == [result.value_at(4, "aligned_mse")]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"no snapshot at step 3; this run kept steps \[0, 2, 4"):
        explorer_figure(result, 3)


def test_widgets_follow_the_run_and_step(runs):
    box = explore(runs)
    controls, step, metric, output = box.children
    run, corrected = controls.children
    assert list(run.options) == ["cat", "coffee"] and step.options == (0, 2, 4, 6)
    step.value = 4
    corrected.value = True
    run.value = "coffee"
    assert step.options == (0, 2, 4, 6) and len(output.outputs) == 1  # redrawn, not stacked
    with pytest.raises(ValueError, match="at least one run"):
        explore({})
