"""The atlas's plan: every sweep named once, the base sweeps first, each factor's baseline found
in the base table, and the command that lists and runs them."""

from __future__ import annotations

import pandas as pd
import pytest

from dlg_helpers.cli import main
from dlg_helpers.client.pool import pool_batches, pool_sample
from dlg_helpers.attack.registry import attack_entry
from dlg_helpers.runs.atlas_plan import (ATLAS, ATLAS_ATTACKS, BATCH_SIZES, FACTOR_IMAGES, FACTORS,
                                    RESTARTS, atlas_sweep, baseline_rows, factor_levels,
                                    labelled_levels, level_label, load_atlas)


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


def _table(images, seeds, **columns) -> pd.DataFrame:
    # a table keeps scores: each image ranked first at a likeness that leaks
    rows = [{"images": name, "seed": seed, "image_likeness": [0.95], "image_rank": [1],
             "image_lookalike": [0.5], **columns}
            for seed in seeds for name in images]
    return pd.DataFrame(rows)


def test_a_factors_levels_come_in_order_with_the_baseline_from_the_base_table(tmp_path):
    names = [p.name for p in pool_sample(60)]
    tables = {"dlg-base": _table(names, range(5), batch=1),
              "dlg-resolution-64": _table(names[:50], (0, 1), batch=1),
              "dlg-resolution-16": _table(names[:50], (0, 1), batch=1),
              "dlg-defences": pd.concat([_table(names[:50], (0, 1), defence=d, batch=1)
                                         for d in ("gaussian:0.01", "prune:0.5")])}
    levels = factor_levels(tables, "dlg", "resolution")
    assert [level for level, _ in levels] == ["16", "32", "64"]
    assert len(levels[1][1]) == 100 and set(levels[1][1]["seed"]) == {0, 1}
    labelled = labelled_levels(tables, "dlg", "defences")
    assert [label for label, _ in labelled] == ["no defence", "gaussian:0.01", "prune:0.5"]
    assert factor_levels(tables, "idlg", "resolution") == []  # nothing stored for iDLG
    assert factor_levels({k: v for k, v in tables.items() if k != "dlg-base"}, "dlg",
                         "resolution") == []


def test_level_labels_name_each_factor_and_refuse_an_unknown_one():
    assert level_label("batch", "8") == "batch of 8" and level_label("batch", "1") == "one image"
    assert level_label("resolution", "64") == "64 × 64"
    assert level_label("training", "0") == "random weights"
    assert level_label("restarts", "0") == "one start"
    with pytest.raises(KeyError, match="has no factor"):
        level_label("colour", "1")


def test_the_restarts_baseline_is_dlgs_preset():
    assert FACTORS["restarts"] == str(attack_entry("dlg").config().restarts)
    assert "--restarts" in atlas_sweep(f"dlg-restarts-{RESTARTS}").arguments


def test_the_stored_atlas_loads_by_sweep_name_and_leaves_running_sweeps_out(tmp_path):
    _table(["cat"], (0,), batch=1).to_parquet(tmp_path / "dlg-base.parquet")
    (tmp_path / "idlg-base.parquet.shards").mkdir()
    loaded = load_atlas(tmp_path)
    assert list(loaded) == ["dlg-base"] and loaded["dlg-base"]["leaks"].all()  # judged on read
    with pytest.raises(FileNotFoundError, match="RESULTS_DIR.*python -m dlg_helpers atlas"):
        load_atlas(tmp_path / "elsewhere")
