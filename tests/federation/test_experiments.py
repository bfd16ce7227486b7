"""The federation chapter's measurements: their storage resumes, and their pieces are right."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from dlg_helpers.analysis.verdicts import Verdict
from dlg_helpers.book.federation_tables import (fedavg_table, imprint_table, privacy_table,
                                                quantisation_table, secure_table, share_cell)
from dlg_helpers.client.victim import SharedUpdate
from dlg_helpers.federation import experiments
from dlg_helpers.federation.experiments import (MULTI_STEP, SINGLE_STEP, _Rows, central_epsilon,
                                                fedavg_partitions, load_measurement,
                                                single_step_view)
from dlg_helpers.federation.legacy import SecureAggregation
from dlg_helpers.federation.simulation import FederationConfig


def test_rows_are_kept_as_they_come_and_gathered_into_one_table(tmp_path):
    store = _Rows(tmp_path / "t.parquet")
    store.add([{"cell": 1, "leaks": True, "thumbnail": experiments._png_text(torch.rand(1, 3, 4, 4))}])
    again = _Rows(tmp_path / "t.parquet")  # a run started again reads what was written
    assert again.has(cell=1) and not again.has(cell=2)
    again.add([{"cell": 2, "leaks": False, "thumbnail": None}])
    frame = pd.read_parquet(again.finish())
    assert list(frame["cell"]) == [1, 2] and isinstance(frame["thumbnail"][0], bytes)
    assert not again.partial.exists()
    killed = _Rows(tmp_path / "k.parquet")
    killed.add([{"cell": 1}])
    with killed.partial.open("a") as file:
        file.write('{"cell": 2, "lea')  # a run killed while writing its last row
    assert _Rows(tmp_path / "k.parquet").rows == [{"cell": 1}]
    with pytest.raises(FileNotFoundError, match="experiments nothing"):
        load_measurement("nothing", tmp_path)


def test_the_single_step_attacker_divides_the_change_by_the_steps():
    config = FederationConfig(fedavg_partitions(2, 4), local_epochs=2, local_batch=1)
    update = SharedUpdate([torch.ones(3)], 4, (4, 3, 32, 32), local_steps=config.local_steps)
    seen = single_step_view(config, update)
    assert seen.local_steps is None and torch.allclose(seen.gradient[0], torch.full((3,), 1 / 8))
    assert len({n for p in config.partitions for n in p}) == 8


def test_central_epsilon_falls_with_more_noise():
    assert central_epsilon(2.0, 4) < central_epsilon(1.0, 4) < central_epsilon(0.5, 4)


def _fedavg_frame():
    rows = []
    for epochs, batch, steps in ((1, 4, 1), (2, 1, 8)):
        for attack in (MULTI_STEP, SINGLE_STEP):
            for image in range(6):
                leaks = attack == MULTI_STEP or steps == 1
                rows.append(dict(epochs=epochs, batch=batch, steps=steps, attack=attack,
                                 image=f"i{image}", leaks=leaks,
                                 likeness=0.9 if leaks else 0.2))
    return pd.DataFrame(rows)


def test_the_tables_give_counts_with_intervals():
    assert share_cell(3, 4) == "3/4 (30–95 %)"
    text = fedavg_table(_fedavg_frame()).data
    assert "6/6 (61–100 %)" in text and "0/6 (0–39 %)" in text and "0.90" in text
    secure = pd.DataFrame([dict(part="clients", clients=n, max_weight=mw, draw=d, image=f"{n}{d}{i}",
                                leaks=n < 4, likeness=0.9 if n < 4 else 0.3, labels_right=n,
                                aggregate_error=err)
                           for n, mw, err in ((1, 0.0, float("nan")), (2, 1.0, 5e-8), (4, 1.0, 5e-8))
                           for d in range(2) for i in range(n)]
                          + [dict(part="quantisation", clients=2, max_weight=1000.0, draw=d,
                                  image=f"q{d}{i}", leaks=False, likeness=0.1, labels_right=2,
                                  aggregate_error=5e-2) for d in range(2) for i in range(2)])
    text = secure_table(secure).data
    assert "the aggregate" in text and "0/8" in text and "4/4" in text
    text = quantisation_table(secure, lambda w: SecureAggregation(w).rounding_step(1)).data
    assert "1,000" in text and "5e-02" in text.replace("5.0e-02", "5e-02")
    privacy = pd.DataFrame([dict(setting=s, client=c, attack=a, image=f"{s}{c}",
                                 leaks=s == "none", likeness=0.5, epsilon=e,
                                 change=0.0 if e is None else 1.0)
                            for s, e in (("none", None), ("local DP, ε = 100", 100.0))
                            for a in ("DLG", "inverting gradients") for c in range(2)])
    text = privacy_table(privacy).data
    assert "none" in text and "100" in text and "2/2" in text
    assert "leaked, DLG" in text and "leaked, inverting gradients" in text
    imprint = pd.DataFrame([dict(clients=2, batch=4, image=f"m{i}", exact=i < 7, leaks=i < 7)
                            for i in range(8)])
    assert "7/8" in imprint_table(imprint).data


def _fedavg_grid(five_small_leak: bool) -> pd.DataFrame:
    """Four images per cell; the simulating attack leaks everywhere but, unless told, at five
    epochs with more than five steps; the single-step attack leaks at one step only."""
    return pd.DataFrame([dict(epochs=e, batch=b, steps=e * 4 // b, attack=a, image=f"{i}",
                              leaks=e * 4 // b == 1 or (a == MULTI_STEP and (
                                  e < 5 or e * 4 // b <= 5 or five_small_leak)))
                         for e in (1, 2, 5) for b in (1, 2, 4) for a in (MULTI_STEP, SINGLE_STEP)
                         for i in range(4)])


def test_fedavg_outcome_counts_images_by_local_work():
    found = experiments.fedavg_outcome(_fedavg_grid(False))
    assert found.one_step == experiments.Tally(4, 4)
    assert found.few_simulating == experiments.Tally(20, 20) and found.few_assuming.count == 0
    assert [(b, s, t.count) for b, s, t in found.five_by_batch] == [(4, 5, 4), (2, 10, 0),
                                                                     (1, 20, 0)]
    assert found.five_simulating == experiments.Tally(4, 12)
    assert found.verdict is Verdict.PARTLY
    assert experiments.fedavg_outcome(_fedavg_grid(True)).verdict is Verdict.HOLDS


def _secure_frame(default_leaks: bool, eight_leak: bool = False) -> pd.DataFrame:
    rows = [dict(part="clients", clients=n, max_weight=1.0 if n > 1 else 0.0, draw=d,
                 leaks=n < 8 or eight_leak, aggregate_error=1e-8 if n > 1 else float("nan"))
            for n in (1, 2, 8) for d in range(2) for _ in range(max(n, 1))]
    rows += [dict(part="quantisation", clients=2, max_weight=1000.0, draw=d, leaks=default_leaks,
                  aggregate_error=5e-2) for d in range(2) for _ in range(2)]
    return pd.DataFrame(rows)


def test_secure_outcome_tells_hidden_aggregates_and_quantisation_apart():
    found = experiments.secure_outcome(_secure_frame(False))
    assert found.own == experiments.Tally(2, 2) and found.aggregate(8) == experiments.Tally(0, 16)
    assert [n for n, _ in found.aggregates] == [2, 8]
    assert found.tuned == experiments.Tally(4, 4) and found.default == experiments.Tally(0, 4)
    assert found.default_error == pytest.approx(5e-2) and found.tuned_error == pytest.approx(1e-8)
    assert found.quantisation_decides and found.verdict is Verdict.PARTLY
    leaky = experiments.secure_outcome(_secure_frame(True, eight_leak=True))
    assert not leaky.quantisation_decides and leaky.verdict is Verdict.DOES_NOT_HOLD


def test_privacy_outcomes_find_local_dp_threshold_and_central_counts():
    settings = (("none", None, True, True), ("local DP, ε = 100", 100.0, False, False),
                ("local DP, ε = 1000", 1e3, False, True), ("local DP, ε = 1e+05", 1e5, True, True),
                ("server-side clipping + noise", 4.7, False, True),
                ("client-side clipping + server noise", 4.7, False, True))
    frame = pd.DataFrame([dict(setting=s, epsilon=e, attack=attack, leaks=leaks)
                          for s, e, dlg, ig in settings
                          for attack, leaks in (("DLG", dlg), ("inverting gradients", ig))
                          for _ in range(2)])
    found = experiments.privacy_outcomes(frame)
    dlg, ig = found["DLG"], found["inverting gradients"]
    assert (dlg.local_safe_up_to, dlg.local_leaks_from) == (1e3, 1e5)
    assert (ig.local_safe_up_to, ig.local_leaks_from) == (100.0, 1e3)
    assert dlg.none == experiments.Tally(2, 2) and dlg.server_clipping.count == 0
    assert ig.client_clipping == experiments.Tally(2, 2)


def test_imprint_outcome_reads_the_largest_round_and_the_verdict():
    frame = pd.DataFrame([dict(clients=c, batch=b, exact=i < 3, leaks=i < 5)
                          for c, b in ((2, 1), (4, 8)) for i in range(c * b)])
    found = experiments.imprint_outcome(frame)
    assert found.largest_exact == experiments.Tally(3, 32) and found.largest_leaked.count == 5
    assert (found.largest_clients, found.largest_batch) == (4, 8)
    assert found.exact == experiments.Tally(5, 34) and found.verdict is Verdict.DOES_NOT_HOLD
    none = frame.assign(exact=False)
    assert experiments.imprint_outcome(none).verdict is Verdict.HOLDS
