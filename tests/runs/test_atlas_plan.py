"""The atlas's plan: every sweep named once, the base sweeps first, each factor's baseline found
in the base table, and the command that lists and runs them."""

from __future__ import annotations

import pandas as pd
import pytest

from dlg_helpers.cli import main
from dlg_helpers.client.pool import pool_batches, pool_sample
from dlg_helpers.runs.atlas import (ATLAS, ATLAS_ATTACKS, BATCH_SIZES, FACTOR_IMAGES,
                                    atlas_sweep, baseline_rows)


def test_every_sweep_is_named_once_and_the_base_sweeps_come_first():
    names = [sweep.name for sweep in ATLAS]
    assert len(set(names)) == len(names)
    assert [s.factor for s in ATLAS[:len(ATLAS_ATTACKS)]] == ["base"] * len(ATLAS_ATTACKS)
    assert atlas_sweep("idlg-batch-8").command()[:3] == ["sweep", "--attack", "idlg"]
    with pytest.raises(KeyError, match="has no sweep"):
        atlas_sweep("dlg-nothing")


def test_each_batch_level_holds_the_factor_images_in_whole_batches_of_distinct_labels():
    labels = {image.name: image.label for image in pool_sample(200)}
    for size in BATCH_SIZES:
        batches, drawn = pool_batches(FACTOR_IMAGES, size)
        assert FACTOR_IMAGES <= size * len(batches) < FACTOR_IMAGES + size, size
        assert all(len(batch) == size and len({labels[n] for n in batch}) == size
                   for batch in batches)
        # nested in the base sample, so the level's images have their base-case attacks
        assert {image.name for image in drawn} <= set(labels)


def test_a_pool_too_small_for_the_batches_is_refused():
    with pytest.raises(ValueError, match="ask for fewer"):
        pool_batches(1001, 2)


def test_a_factors_baseline_comes_from_the_base_table():
    base = pd.DataFrame({"images": [p.name for p in pool_sample(200)] * 2,
                         "seed": [0] * 200 + [3] * 200})
    factor = pd.DataFrame({"images": [p.name for p in pool_sample(FACTOR_IMAGES)], "seed": 0})
    found = baseline_rows(base, factor)
    assert len(found) == FACTOR_IMAGES and set(found["seed"]) == {0}


def test_the_command_lists_the_sweeps_and_what_is_stored(tmp_path, capsys):
    (tmp_path / "dlg-base.parquet").write_bytes(b"")
    (tmp_path / "idlg-base.parquet.shards").mkdir()
    assert main(["atlas", "--list", "--dir", str(tmp_path), "--only", "dlg-base",
                 "idlg-base", "dlg-batch-2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "stored" in lines[0] and "0 shards stored" in lines[1] and "not started" in lines[2]
    assert main(["atlas", "--only", "dlg-nothing"]) == 2
