"""What the federation chapter's tables say, as tallies and verdicts."""

from __future__ import annotations

import pandas as pd
import pytest

from dlg_helpers.analysis import federation_outcomes
from dlg_helpers.analysis.federation_outcomes import Tally
from dlg_helpers.analysis.verdicts import Verdict
from dlg_helpers.runs.federation_plan import MULTI_STEP, SINGLE_STEP


def _fedavg_grid(five_small_leak: bool) -> pd.DataFrame:
    """Four images per cell; the simulating attack leaks everywhere but, unless told, at five
    epochs with more than five steps; the single-step attack leaks at one step only."""
    return pd.DataFrame([dict(epochs=e, batch=b, steps=e * 4 // b, attack=a, image=f"{i}",
                              leaks=e * 4 // b == 1 or (a == MULTI_STEP and (
                                  e < 5 or e * 4 // b <= 5 or five_small_leak)))
                         for e in (1, 2, 5) for b in (1, 2, 4) for a in (MULTI_STEP, SINGLE_STEP)
                         for i in range(4)])


def test_fedavg_outcome_counts_images_by_local_work():
    found = federation_outcomes.fedavg_outcome(_fedavg_grid(False))
    assert found.one_step == Tally(4, 4)
    assert found.few_simulating == Tally(20, 20) and found.few_assuming.count == 0
    assert [(b, s, t.count) for b, s, t in found.five_by_batch] == [(4, 5, 4), (2, 10, 0),
                                                                     (1, 20, 0)]
    assert found.five_simulating == Tally(4, 12)
    assert found.verdict is Verdict.PARTLY
    assert federation_outcomes.fedavg_outcome(_fedavg_grid(True)).verdict is Verdict.HOLDS


def _secure_frame(default_leaks: bool, eight_leak: bool = False) -> pd.DataFrame:
    rows = [dict(part="clients", clients=n, max_weight=1.0 if n > 1 else 0.0, draw=d,
                 leaks=n < 8 or eight_leak, aggregate_error=1e-8 if n > 1 else float("nan"))
            for n in (1, 2, 8) for d in range(2) for _ in range(max(n, 1))]
    rows += [dict(part="quantisation", clients=2, max_weight=1000.0, draw=d, leaks=default_leaks,
                  aggregate_error=5e-2) for d in range(2) for _ in range(2)]
    return pd.DataFrame(rows)


def test_secure_outcome_tells_hidden_aggregates_and_quantisation_apart():
    found = federation_outcomes.secure_outcome(_secure_frame(False))
    assert found.own == Tally(2, 2) and found.aggregate(8) == Tally(0, 16)
    assert [n for n, _ in found.aggregates] == [2, 8]
    assert found.tuned == Tally(4, 4) and found.default == Tally(0, 4)
    assert found.default_error == pytest.approx(5e-2) and found.tuned_error == pytest.approx(1e-8)
    assert found.quantisation_decides and found.verdict is Verdict.PARTLY
    leaky = federation_outcomes.secure_outcome(_secure_frame(True, eight_leak=True))
    assert not leaky.quantisation_decides and leaky.verdict is Verdict.DOES_NOT_HOLD


def test_privacy_outcomes_find_local_dp_threshold_and_central_counts():
    settings = (("none", None, True, True), ("local DP, ε = 100", 100.0, False, False),
                ("local DP, ε = 1000", 1e3, False, True), ("local DP, ε = 1e+05", 1e5, True, True),
                ("server-side clipping + noise", 4.7, False, True),
                ("client-side clipping + server noise", 4.7, False, True))
    frame = pd.DataFrame([dict(setting=s, epsilon=e, attack=attack, leaks=leaks)
                          for s, e, dlg, ig in settings
                          for attack, leaks in (("iDLG", dlg), ("inverting gradients", ig))
                          for _ in range(2)])
    found = federation_outcomes.privacy_outcomes(frame)
    dlg, ig = found["iDLG"], found["inverting gradients"]
    assert (dlg.local_safe_up_to, dlg.local_leaks_from) == (1e3, 1e5)
    assert (ig.local_safe_up_to, ig.local_leaks_from) == (100.0, 1e3)
    assert dlg.none == Tally(2, 2) and dlg.server_clipping.count == 0
    assert ig.client_clipping == Tally(2, 2)


def test_imprint_outcome_reads_the_largest_round_and_the_verdict():
    frame = pd.DataFrame([dict(clients=c, batch=b, exact=i < 3, leaks=i < 5)
                          for c, b in ((2, 1), (4, 8)) for i in range(c * b)])
    found = federation_outcomes.imprint_outcome(frame)
    assert found.largest_exact == Tally(3, 32) and found.largest_leaked.count == 5
    assert (found.largest_clients, found.largest_batch) == (4, 8)
    assert found.exact == Tally(5, 34) and found.verdict is Verdict.DOES_NOT_HOLD
    none = frame.assign(exact=False)
    assert federation_outcomes.imprint_outcome(none).verdict is Verdict.HOLDS
