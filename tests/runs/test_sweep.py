"""Sweeps stored as one table: shards, checkpoints, and the same table in process and on Ray."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import torch
import pytest

from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.cli import main
from dlg_helpers.runs.sweep import Sweep, SweepCase, load_table, pool_sweep, run_sweep

TINY = AttackConfig(steps=4, snapshot_every=0, progress=False)
OUTCOMES = ["case", "images", "seed", "likeness", "rank", "leaks", "r2", "label_correct",
            "status", "steps", "evaluations", "best_distance"]


def _tiny(seeds=(0, 1)) -> Sweep:
    cases = tuple(SweepCase((name,), seed) for seed in seeds
                  for name in ("cat", "face-2", "digit-5"))
    return Sweep(cases, TINY, "lenet", 16)


def test_shards_keep_cases_that_can_share_a_computation_together():
    cases = (SweepCase(("cat",)), SweepCase(("cat", "coffee")), SweepCase(("coffee",)),
             SweepCase(("cat",), defence="gaussian:0.001"), SweepCase(("face-1",)))
    shards = Sweep(cases, TINY).shards(shard_size=2)
    assert shards == [[0, 2], [4], [1], [3]]
    assert Sweep(cases, TINY).identity() != Sweep(cases[:4], TINY).identity()


def test_a_sweep_writes_one_table_and_resumes_from_its_shards(tmp_path):
    table = tmp_path / "tiny.parquet"
    lines: list[str] = []
    run_sweep(_tiny(), table, shard_size=2, log=lines.append)
    frame = load_table(table)
    assert list(frame["case"]) == list(range(6))
    assert set(OUTCOMES) <= set(frame.columns)
    assert frame["reconstruction_png"].notna().tolist() == [True] * 3 + [False] * 3
    assert frame["reconstruction_png"][0][:4] == b"\x89PNG"
    assert not (tmp_path / "tiny.parquet.shards").exists()
    # an interrupted sweep: two of its three shards are stored, the third is run again
    sweep = _tiny()
    shards = tmp_path / "again.parquet.shards"
    run_sweep(Sweep(sweep.cases[:4], TINY, "lenet", 16), tmp_path / "part.parquet",
              shard_size=2, log=lines.append)
    shards.mkdir()
    part = pd.read_parquet(tmp_path / "part.parquet")
    part[part["case"] < 2].to_parquet(shards / "0000.parquet", index=False)
    part[(part["case"] >= 2) & (part["case"] < 4)].to_parquet(shards / "0001.parquet",
                                                              index=False)
    lines.clear()
    run_sweep(sweep, tmp_path / "again.parquet", shard_size=2, log=lines.append)
    assert "2 stored; running 1" in lines[0]
    again = load_table(tmp_path / "again.parquet")
    assert list(again["case"]) == list(range(6))


def test_shards_of_another_sweep_are_not_mixed_in(tmp_path):
    shards = tmp_path / "t.parquet.shards"
    shards.mkdir()
    (shards / "sweep.json").write_text('{"identity": "another", "cases": 3}')
    with pytest.raises(ValueError, match="another sweep"):
        run_sweep(_tiny(), tmp_path / "t.parquet", log=lambda line: None)


def test_a_missing_table_names_the_command_that_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="dlg_helpers sweep"):
        load_table(tmp_path / "none.parquet")


@pytest.mark.slow
def test_a_sweep_on_a_local_ray_with_two_workers_gives_the_in_process_table(tmp_path):
    sweep = _tiny()
    here = load_table(run_sweep(sweep, tmp_path / "here.parquet", shard_size=2,
                                log=lambda line: None))
    ray_table = tmp_path / "deep" / "folder" / "of" / "runs" / "ray.parquet"
    ray_table.parent.mkdir(parents=True)
    there = load_table(run_sweep(sweep, ray_table, ray=True, workers=2, shard_size=2,
                                 log=lambda line: None))
    pd.testing.assert_frame_equal(here[OUTCOMES], there[OUTCOMES])
    assert not ray_table.with_name("ray.parquet.shards").exists()  # Ray's files went with it
    import ray

    assert not ray.is_initialized()


def test_the_command_line_sweeps_the_pool_into_a_table(tmp_path, capsys):
    table = tmp_path / "pool.parquet"
    assert main(["sweep", "--pool", "3", "--size", "16", "--steps", "2", "--no-progress",
                 "--table", str(table)]) == 0
    frame = load_table(table)
    assert len(frame) == 3 and set(frame["sources"]) <= {"photo", "face", "digit"}
    assert main(["sweep", "--pool", "3", "--results", str(tmp_path)]) == 2
    assert "--table" in capsys.readouterr().err
    assert main(["sweep", "--images", "cat", "--batch", "2", "--table", str(table)]) == 2


def test_runs_computed_together_are_stored_as_load_or_run_would_store_them(tmp_path):
    from dlg_helpers.runs.spec import RunSpec
    from dlg_helpers.runs.store import load_or_run, run_many, stored_result

    config = AttackConfig(steps=3, snapshot_every=0, progress=False)
    specs = [RunSpec("lenet", (name,), replace(config, seed=seed), size=16,
                     defence="gaussian:0.0001" if name == "coffee" else None)
             for name, seed in (("cat", 0), ("coffee", 0), ("face-1", 2))]
    lines: list[str] = []
    results = run_many(specs, tmp_path, log=lines.append)
    assert "3 to compute in 1 batches" in lines[0]
    for spec, result in zip(specs, results):
        stored = stored_result(spec, tmp_path, quiet=True)
        assert stored is not None and stored.config.seed == spec.config.seed
        assert torch.equal(stored.reconstruction, result.reconstruction)
        record = (spec.folder(tmp_path) / "record.json").read_text()
        assert "dlg_helpers attack" in record  # the command that reproduces it alone
    lines.clear()
    run_many(specs, tmp_path, log=lines.append)
    assert "3 stored, 0 to compute" in lines[0]
    assert load_or_run(specs[0], tmp_path).steps == results[0].steps


def test_runs_the_batched_engine_refuses_are_computed_one_at_a_time(tmp_path):
    from dlg_helpers.runs.spec import RunSpec
    from dlg_helpers.runs.store import run_many, stored_result

    config = AttackConfig(steps=2, max_iter=2, line_search="strong_wolfe", snapshot_every=0,
                          progress=False)
    specs = [RunSpec("lenet", (name,), config, size=16) for name in ("cat", "coffee")]
    lines: list[str] = []
    results = run_many(specs, tmp_path, log=lines.append)
    assert "one at a time" in lines[-1] and len(results) == 2
    assert all(stored_result(spec, tmp_path, quiet=True) is not None for spec in specs)


def test_batches_are_as_even_as_their_largest_size_allows():
    from dlg_helpers.runs.store import _even_chunks

    assert [len(c) for c in _even_chunks(list(range(36)), 32)] == [18, 18]
    assert [len(c) for c in _even_chunks(list(range(65)), 32)] == [22, 22, 21]
    assert _even_chunks([1, 2], 32) == [[1, 2]] and _even_chunks([], 32) == []
    chunks = _even_chunks(list(range(100)), 7)
    assert sum(chunks, []) == list(range(100)) and max(map(len, chunks)) <= 7


def test_the_folder_sweep_can_run_its_attacks_batched(tmp_path):
    words = ["sweep", "--images", "cat", "coffee", "--seeds", "0", "1", "--size", "16",
             "--steps", "2", "--no-progress", "--results", str(tmp_path), "--batched"]
    assert main(words) == 0
    assert len(list((tmp_path / "lenet").glob("*/record.json"))) == 4


def test_a_pool_sweep_attacks_every_batch_under_every_seed_and_defence():
    sweep = pool_sweep(TINY, 8, seeds=(0, 3), batch=2, defences=(None, "gaussian:0.01"))
    assert len(sweep.cases) == 2 * 2 * 4  # seeds x defences x batches
    assert {case.seed for case in sweep.cases} == {0, 3}
    assert all(len(case.images) == 2 for case in sweep.cases)
    assert sweep.config.snapshot_every == 0  # a table keeps no history
    sources = dict(sweep.sources)
    assert all(name in sources for case in sweep.cases for name in case.images)
