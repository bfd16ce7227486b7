"""The original DLG loop beside the engine, judged by one threshold."""

import pytest

from dlg_helpers.attack.config import AttackConfig


def test_the_comparison_with_the_original_reuses_an_engine_run_at_hand():
    from dlg_helpers.analysis.original import compare_with_original

    config = AttackConfig(steps=4, progress=False)
    computed = compare_with_original("cat", [2], config)[0]
    assert len(computed.original) == 4 and computed.engine.steps <= 4
    reused = compare_with_original("cat", [2, 3], config, engine_runs={2: computed.engine})
    assert reused[0].engine is computed.engine  # not recomputed
    assert reused[0].original_mse == pytest.approx(computed.original_mse)
    assert reused[1].seed == 3 and reused[1].engine is not computed.engine


def test_the_comparison_reads_the_originals_stored_in_a_results_folder(tmp_path):
    from dlg_helpers.analysis.original import compare_with_original

    config = AttackConfig(steps=3, progress=False)
    stored = compare_with_original("cat", [1], config, results_dir=tmp_path)[0]
    assert (tmp_path / "lenet" / "original" / "cat-seed1-steps3.json").is_file()
    again = compare_with_original("cat", [1], config, {1: stored.engine}, results_dir=tmp_path)[0]
    assert again.original == stored.original  # the stored history, seconds and all
