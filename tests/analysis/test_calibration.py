"""The calibration of "leaks": every stored image judged, the ladder, the counts."""

import pytest
import torch

from dlg_helpers.analysis import calibration
from dlg_helpers.client.models import get_spec
from dlg_helpers.measures.criteria import LEAK_FLOOR, LOOKALIKE_MARGIN
from dlg_helpers.measures.rows import input_mse


def test_every_stored_image_is_judged(stored):
    _, results = stored
    (judged,) = calibration.judged_images(results)
    assert judged["model"] == "lenet" and judged["image"] == "coffee" and judged["index"] == 0
    assert judged["reconstruction"].shape == judged["truth"].shape == (1, 3, 32, 32)
    # three steps from noise already rank the coffee first by its faint layout, but far below
    # the likeness of a recognisable picture: it does not leak
    assert judged["likeness"] < LEAK_FLOOR and not judged["leaks"]


def _judged(run, likeness, rank=1, image="cat", model="lenet", lookalike=0.5):
    return {"run": f"{model}/{run}", "index": 0, "model": model, "image": image,
            "likeness": likeness, "rank": rank, "lookalike": lookalike}


def test_the_ladder_takes_ranked_first_images_near_each_rung_and_varies_them():
    judged = [_judged("a", 0.31), _judged("b", 0.69, image="cat"),
              _judged("c", 0.70, image="face-0", model="resnet18"), _judged("d", 0.9, rank=2),
              _judged("e", 0.88, image="coffee"), _judged("f", 0.88, image="digit-1",
                                                           lookalike=0.89 - LOOKALIKE_MARGIN)]
    ladder = calibration.ladder(judged, [0.3, 0.7, 0.9])
    # near 0.7 both b and c qualify; c is of another model and image, so it is taken
    assert [j["run"] for j in ladder] == ["lenet/a", "resnet18/c", "lenet/e"]
    # b, c and e pass the floor; the digit f is no closer to its image than its look-alike is
    counts = calibration.calibration_counts(judged)
    assert counts == {"images": 6, "ranked_first": 5, "leak": 3, "short": 2}


def test_the_input_mse_is_in_the_units_the_network_is_fed():
    truth = torch.full((1, 3, 4, 4), 0.5)
    off = truth + 0.1
    lenet, resnet = get_spec("lenet").normalisation, get_spec("resnet18").normalisation
    assert input_mse(off, truth, lenet) == pytest.approx(0.01)  # LeNet takes [0, 1] pixels
    std = torch.tensor(resnet.std)
    assert input_mse(off, truth, resnet) == pytest.approx(float((0.01 / std ** 2).mean()))
