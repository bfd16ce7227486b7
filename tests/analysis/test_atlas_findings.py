"""What the atlas's tables say: each sentence and verdict turns with the data."""

from __future__ import annotations

import pandas as pd

from dlg_helpers.analysis import atlas_findings as findings
from dlg_helpers.client.pool import pool_sample

NAMES = [p.name for p in pool_sample(50)]
SOURCES = {p.name: p.source for p in pool_sample(50)}


def _table(leaks, labels=None, seeds=(0, 1), batch=1, **columns) -> pd.DataFrame:
    """One row per image and seed; ``leaks`` and ``labels`` are the shares that succeed."""
    rows = []
    for seed in seeds:
        for index, name in enumerate(NAMES):
            leaked = index < leaks * len(NAMES)
            right = index < (leaks if labels is None else labels) * len(NAMES)
            rows.append({"images": name, "sources": SOURCES[name], "seed": seed,
                         "leaks": leaked, "identified": int(leaked) * batch, "batch": batch,
                         "label_correct": right, "labels_recovered": int(right) * batch,
                         "likeness": 0.95 if leaked else 0.3, "rank": 1 if leaked else 9,
                         "status": "matched" if leaked else "stalled", **columns})
    return pd.DataFrame(rows)


def test_the_restarts_verdict_turns_with_the_single_starts_labels():
    base = _table(1.0)
    explained = findings.restart_findings({"dlg-base": base, "dlg-restarts-0": _table(0.6, 0.6)})
    assert explained["restarts_verdict"].startswith("The restarts explain it")
    assert explained["restarts_one_labels"].startswith("60 of 100 labels")
    same = findings.restart_findings({"dlg-base": base, "dlg-restarts-0": _table(1.0)})
    assert same["restarts_verdict"].startswith("The restarts do not explain it")
    assert findings.restart_findings({"dlg-base": base}) == {}


def test_dlgs_labels_are_set_against_the_papers_figures():
    above = findings.base_findings({"dlg-base": _table(1.0)})
    assert above["label_paper"].startswith("above")
    below = findings.base_findings({"dlg-base": _table(1.0, labels=0.5)})
    assert below["label_paper"].startswith("below")
    assert "ig_base" not in above  # a table not stored has no sentence


def _budget_rows(*settings):
    """Budget rows from (ratio, {attack: share leaked}) pairs, 100 images each."""
    return [{"ratio": ratio, "label": f"setting {ratio}",
             "rates": {name: {"rate": rate, "identified": round(100 * rate), "images": 100}
                       for name, rate in shares.items()}}
            for ratio, shares in settings]


def test_the_budget_verdict_says_whether_the_ratio_orders_the_outcomes():
    def rows(*pairs):
        return _budget_rows(*[(ratio, {"DLG": rate, "iDLG": rate / 2}) for ratio, rate in pairs])

    ordered = findings.budget_findings(rows((3.0, 0.9), (1.5, 0.7), (0.9, 0.1)))
    assert ordered["budget_verdict"].startswith(
        "for DLG and iDLG, which use the gradient alone, the ratio orders the outcomes")
    assert "below_one" not in findings.budget_findings(rows((3.0, 0.9), (1.5, 0.7)))
    assert "1.50 or more" in ordered["budget_verdict"]
    mixed = findings.budget_findings(rows((3.0, 0.2), (1.5, 0.7)))
    assert "does not order" in mixed["budget_verdict"]
    assert findings.budget_findings(rows((3.0, 0.9))) == {}


def test_an_attack_with_a_prior_is_judged_apart_from_the_count():
    rows = _budget_rows((3.0, {"DLG": 0.95, "inverting gradients": 0.8}),
                        (0.9, {"DLG": 0.01, "inverting gradients": 0.68}))
    found = findings.budget_findings(rows)
    assert "the ratio orders the outcomes" in found["budget_verdict"]  # the prior is set apart
    assert found["prior_verdict"] == ("Inverting gradients, with its prior, identified as many "
                                      "as 68 of 100 images where the ratio was 0.90 (setting 0.9)")
    assert found["below_one"] == ("DLG identified 1 of 100 images and inverting gradients "
                                  "identified 68 of 100 images")
    rows.append(_budget_rows((0.5, {"DLG": 0.0, "inverting gradients": 0.1}))[0])
    assert "68 of 100" in findings.budget_findings(rows)["prior_verdict"]  # its best setting


def test_the_claims_judge_the_largest_level_against_the_baseline():
    tables = {"dlg-base": _table(1.0), "idlg-base": _table(1.0),
              "dlg-resolution-64": _table(0.05), "dlg-resolution-16": _table(1.0)}
    claims = findings.atlas_claims(tables)
    assert claims[0].verdict.startswith("does not hold: DLG recovered every label")
    (resolution,) = [c for c in claims if "resolution" in c.claim]
    assert resolution.verdict.startswith("holds") and "64 × 64" in resolution.measured
    tables["dlg-resolution-64"] = _table(0.95)
    (resolution,) = [c for c in findings.atlas_claims(tables) if "resolution" in c.claim]
    assert resolution.verdict.startswith("does not hold")


def test_inverting_gradients_is_set_against_dlg_only_where_the_intervals_part():
    tables = {"dlg-base": _table(1.0), "inverting-gradients-base": _table(0.5)}
    assert findings.base_findings(tables)["ig_versus_dlg"] == "less often than DLG"
    tables["inverting-gradients-base"] = _table(0.98)
    assert findings.base_findings(tables)["ig_versus_dlg"].startswith("about as often")
    assert findings.base_findings({"dlg-base": _table(0.3)})["base_summary"].endswith("resists")


def test_the_protection_summary_follows_the_claims():
    tables = {"dlg-base": _table(1.0), "dlg-resolution-64": _table(0.05),
              "dlg-batch-8": _table(0.96, batch=1)}
    summary = findings.protection_findings(tables)["protection_summary"]
    assert summary.startswith("Against DLG, a larger batch made no measurable difference")
    assert summary.endswith("a higher resolution protected the course's LeNet")
    tables["dlg-batch-8"] = _table(0.0, batch=1)
    assert findings.protection_findings(tables)["protection_summary"] == (
        "Against DLG, a larger batch and a higher resolution both protected the course's LeNet")
    assert findings.protection_findings({"dlg-base": _table(1.0)}) == {}


def test_the_protection_summary_names_attacks_with_the_same_outcomes_together():
    tables = {f"{attack}-{level}": _table(share) for attack in ("dlg", "idlg")
              for level, share in (("base", 1.0), ("resolution-64", 0.0))}
    tables.update({"inverting-gradients-base": _table(0.9),
                   "inverting-gradients-resolution-64": _table(0.8)})
    assert findings.protection_findings(tables)["protection_summary"] == (
        "Against DLG and iDLG, a higher resolution protected the course's LeNet; against "
        "inverting gradients, a higher resolution made no measurable difference")


def test_the_seed_spread_counts_levels_whose_seeds_disagree_and_names_the_widest():
    agreeing = {"dlg-base": _table(1.0), "dlg-resolution-64": _table(0.5)}
    found = findings.seed_findings(agreeing)["seed_spread"]
    assert found.startswith("at 0 of the 2 levels measured")
    split = pd.concat([_table(0.9, seeds=(0,)), _table(0.1, seeds=(1,))])
    found = findings.seed_findings({**agreeing, "dlg-resolution-64": split})["seed_spread"]
    assert found.startswith("at 1 of the 2 levels measured")
    assert found.endswith("where 45 of 50 images leaked under seed 0 and 5 of 50 under seed 1")
    assert findings.seed_findings({"dlg-base": _table(1.0)}) == {}
    # the defences' baseline is the same rows of the base table as the resolution's: once
    shared = {**agreeing, "dlg-defences": _table(0.5, defence="gaussian:0.01")}
    assert findings.seed_findings(shared)["seed_spread"].startswith("at 0 of the 3 levels")


def test_the_endings_say_whether_the_budget_stopped_the_failed_attacks():
    tables = {"dlg-base": _table(1.0), "dlg-batch-2": _table(0.0, batch=2, status="plateaued")}
    found = findings.endings_findings(tables)
    assert found["failed_endings"].startswith("of DLG's 100 attacks")
    assert "100 came to rest" in found["failed_endings"]
    assert found["endings_verdict"].startswith("The budget is not what stopped them")
    tables["dlg-batch-2"] = _table(0.0, batch=2, status="budget")
    assert findings.endings_findings(tables)["endings_verdict"].startswith("Most of them ran out")
    assert findings.endings_findings({"dlg-base": _table(1.0)}) == {}


def test_the_settings_the_prose_names_come_from_the_plan_and_the_presets():
    from dlg_helpers.attack.registry import attack_entry
    from dlg_helpers.runs.atlas import BASE_IMAGES, BASE_SEEDS

    said = findings.settings_findings()
    assert said["base_attacks"] == f"{BASE_IMAGES * len(BASE_SEEDS):,}"
    assert said["dlg_steps"] == f"{attack_entry('dlg').config().steps:,}"
    assert said["conv_weights"] == "8,136"  # LeNet's three convolutions, whatever the side
    assert said["paper_dlg_labels"] == "79–90 %"


def test_the_factor_scope_names_the_attacks_measured_and_the_others():
    tables = {"dlg-base": _table(1.0), "dlg-resolution-16": _table(1.0)}
    tables["inverting-gradients-base"] = _table(1.0)
    tables["inverting-gradients-batch-2"] = _table(0.5, batch=2)
    scope = findings.factor_findings(tables)["factor_scope"]
    assert scope.startswith("The factor sweeps stored so far measure DLG on the image side and "
                            "inverting gradients on the batch size;")
    for factor in ("batch-2", "training-400"):
        tables[f"dlg-{factor}"] = _table(1.0)
    tables["dlg-defences"] = _table(0.5, defence="gaussian:0.01")
    assert "DLG on every factor" in findings.factor_findings(tables)["factor_scope"]
    assert findings.factor_findings({})["factor_scope"] == "No factor sweep is stored"


def test_the_convergence_claim_holds_for_one_start_only_where_restarts_do_better():
    tables = {"dlg-base": _table(1.0), "dlg-restarts-0": _table(0.4)}
    (claim,) = [c for c in findings.atlas_claims(tables) if c.claim == findings.REPORT_CONVERGENCE]
    assert claim.verdict.startswith("holds for a single start")
    tables["dlg-restarts-0"] = _table(0.98)
    (claim,) = [c for c in findings.atlas_claims(tables) if c.claim == findings.REPORT_CONVERGENCE]
    assert claim.verdict.startswith("does not hold")


def test_wrong_labels_are_traced_to_the_starts_that_did_not_converge():
    one = _table(0.6, 0.6, status="matched")
    one.loc[~one["label_correct"], "status"] = "stalled"
    found = findings.restart_findings({"dlg-base": _table(1.0), "dlg-restarts-0": one})
    assert found["restarts_one_failed"].startswith("40 of 100 single starts")
    assert found["restarts_wrong_labels"].startswith("40 of its 40 wrong labels")


def test_each_factor_is_said_for_every_attack_measured_on_it():
    tables = {"dlg-base": _table(1.0), "dlg-resolution-16": _table(1.0),
              "inverting-gradients-base": _table(0.8),
              "inverting-gradients-resolution-16": _table(0.9),
              "idlg-base": _table(1.0), "idlg-resolution-16": _table(1.0)}
    said = findings.factor_findings(tables)["resolution_by_attack"]
    assert said.startswith("DLG: 16 × 16: 100 of 100 images")
    assert ". Inverting gradients: 16 × 16: 90 of 100 images" in said
    assert ". iDLG: 16 × 16: 100 of 100 images" in said  # a name with capitals stays as it is
    assert "batch_by_attack" not in findings.factor_findings(tables)


def test_the_count_table_has_a_row_per_setting_with_each_attacks_rate():
    tables = {"dlg-base": _table(1.0), "dlg-batch-2": _table(0.1, batch=2),
              "inverting-gradients-base": _table(1.0),
              "inverting-gradients-batch-2": _table(0.6, batch=2)}
    rows = findings.budget_rows(tables)
    assert [row["label"] for row in rows] == ["batch of 2, 32 × 32"]
    assert set(rows[0]["rates"]) == {"DLG", "inverting gradients"}
    assert rows[0]["unknowns"] == 2 * 3 * 32 * 32


def test_what_each_attack_identified_below_a_ratio_of_one_is_counted():
    rate = {"identified": 3, "images": 50, "rate": 0.06}
    rows = [{"ratio": 2.0, "label": "a", "rates": {"DLG": {**rate, "rate": 0.9}}},
            {"ratio": 0.9, "label": "b", "rates": {"DLG": rate, "inverting gradients": rate}},
            {"ratio": 0.5, "label": "c", "rates": {"DLG": rate}}]
    assert findings.budget_findings(rows)["below_one"] == (
        "DLG identified 6 of 100 images and inverting gradients identified 3 of 50 images")
