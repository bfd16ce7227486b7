"""The defence study as tables."""

from __future__ import annotations

from pathlib import Path

from dlg_helpers.analysis.protection import (
    median_outcomes,
    protection_ranking,
)
from dlg_helpers.book.defence_tables import (
    outcome_table,
    ranking_table,
)

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_tables_show_every_setting_and_the_ranking(outcome_row):
    rows = [outcome_row(a, d, "x", s) for a in ("DLG", "IG")
            for d, s in (("none", 0.9), ("gaussian:0.1", 0.1))]
    medians = median_outcomes(rows)
    costs = [{"defence": "none", "accuracy": 0.93, "accuracy_sd": 0.02,
              "accuracies": [0.91, 0.95], "epsilon": None},
             {"defence": "gaussian:0.1", "accuracy": 0.82, "accuracy_sd": 0.05,
              "accuracies": [0.78, 0.86], "epsilon": None}]
    table = outcome_table(medians, costs).data.splitlines()
    assert table[0].startswith(
        "| defence | DLG: leaked · likeness | IG: leaked · likeness |")
    assert "accuracy (mean ± sd, 2 seeds)" in table[0] and table[0].count("|") == 6
    assert table[3] == "| gaussian:0.1 | 0/1 · 0.10 | 0/1 · 0.10 | 0.82 ± 0.05 | no guarantee |"
    ranked = ranking_table(protection_ranking(medians, costs)).data.splitlines()
    assert ranked[2] == ("| 1 | gaussian (heuristic) | gaussian:0.1 | 0% | 0.82 ± 0.05 | -0.11 | "
                         "no guarantee |")
    one_seed = [{"defence": d, "accuracy": a, "epsilon": None} for d, a in (("none", 0.93),
                                                                         ("gaussian:0.1", 0.82))]
    assert "| 0.82 | no guarantee |" in outcome_table(medians, one_seed).data  # no ± for one
    assert outcome_table([], costs).data == "*No run of these settings is stored.*"
