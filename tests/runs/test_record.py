"""A run's record on disk."""

import json
import math
from dataclasses import replace

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.runs.record import REQUIRED_KEYS, load_record, save_record


@pytest.fixture(scope="module")
def short_result():
    return dlg.run_attack("lenet", "coffee", dlg.AttackConfig(steps=4, progress=False),
                          device="cpu")


def test_save_and_load_round_trip(tmp_path, short_result):
    path = save_record(short_result, tmp_path / "run", model="lenet", image="coffee",
                       device="cpu", command="python -m dlg_helpers attack")
    record = load_record(path.parent)
    for key in REQUIRED_KEYS:
        assert key in record
    assert record["final_mse"] == pytest.approx(short_result.final_mse)
    assert len(record["history"]) == len(short_result.history)
    assert {"mse", "grad_distance"} <= set(record["history"][0])
    assert (tmp_path / "run" / "reconstruction.png").is_file()
    assert (tmp_path / "run" / "truth.png").is_file()


def test_non_finite_numbers_are_written_as_null(tmp_path, short_result):
    diverged = dlg.AttackResult(**{**vars(short_result), "history": [
        replace(short_result.history[0], grad_distance=math.nan, mse=math.inf)]})
    save_record(diverged, tmp_path, model="lenet", image="coffee", device="cpu")
    text = (tmp_path / "record.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # not JSON: other tools would choke
    step = json.loads(text)["history"][0]
    assert step["grad_distance"] is None and step["mse"] is None


def test_missing_corrupt_and_incomplete_records_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no attack record.*python -m dlg_helpers"):
        load_record(tmp_path)
    (tmp_path / "record.json").write_text("{ not json")
    with pytest.raises(ValueError, match="corrupt.*re-run"):
        load_record(tmp_path)
    (tmp_path / "record.json").write_text(json.dumps({"final_mse": 1.0}))
    with pytest.raises(ValueError, match="lacks label_true"):
        load_record(tmp_path)


def test_a_stored_result_comes_back_as_it_was(tmp_path, short_result):
    from dlg_helpers.runs.record import load_result

    save_record(short_result, tmp_path, model="lenet", image="coffee", device="cpu")
    loaded = load_result(tmp_path)
    assert torch.equal(loaded.reconstruction, short_result.reconstruction)
    assert torch.equal(loaded.truth, short_result.truth)
    assert loaded.final_mse == short_result.final_mse
    assert loaded.history == short_result.history
    assert loaded.attempts == short_result.attempts and loaded.config == short_result.config
    assert sorted(loaded.snapshots) == sorted(short_result.snapshots)
    for step, image in short_result.snapshots.items():  # 8 bits over each channel's own range
        span = image.amax(dim=(2, 3), keepdim=True) - image.amin(dim=(2, 3), keepdim=True)
        assert ((loaded.snapshots[step] - image).abs() <= span * 0.5 / 255 + 1e-6).all()
        assert image.min() < 0 or image.max() > 1  # the dummy starts outside [0, 1] ...
        assert loaded.snapshots[step].min() < 0 or loaded.snapshots[step].max() > 1  # ... kept
    (tmp_path / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="arrays.npz is missing or corrupt.*re-run"):
        load_result(tmp_path)


def test_a_long_history_is_stored_thinned_with_its_summary_from_the_whole(tmp_path, make_result):
    from dlg_helpers.runs.record import HISTORY_LIMIT, load_record, save_record, thin_stored_history

    values = [1.0 / (i + 1) for i in range(3 * HISTORY_LIMIT + 5)]
    long = make_result(values)
    path = save_record(long, tmp_path / "long", model="lenet", image="cat", device="cpu")
    record = load_record(path)
    assert record["history_every"] == 4 and len(record["history"]) <= HISTORY_LIMIT + 2
    assert record["steps"] == long.steps and record["evaluations"] == long.evaluations
    assert record["history"][-1]["step"] == long.steps  # the last step is kept
    assert not thin_stored_history(path)  # already thin
    short = save_record(make_result(values[:10]), tmp_path / "short", model="lenet",
                        image="cat", device="cpu")
    assert "history_every" not in load_record(short) and len(load_record(short)["history"]) == 10
