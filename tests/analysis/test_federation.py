"""The federation chapter's sentences follow its tables: each verdict turns with the data."""

from __future__ import annotations

import pandas as pd

from dlg_helpers.analysis.federation import (fedavg_findings, imprint_findings, privacy_findings,
                                             secure_findings)
from dlg_helpers.federation.experiments import MULTI_STEP, SINGLE_STEP


def _fedavg(multi_leaks: bool) -> pd.DataFrame:
    return pd.DataFrame([dict(epochs=e, batch=b, steps=e * 4 // b, attack=a, image=f"{i}",
                              likeness=0.5, leaks=(a == MULTI_STEP and multi_leaks) or e * 4 // b == 1)
                         for e in (1, 2, 5) for b in (1, 4) for a in (MULTI_STEP, SINGLE_STEP)
                         for i in range(4)])


def test_fedavg_verdict_turns_with_the_simulating_attack():
    found = fedavg_findings(_fedavg(True))
    assert found["fedavg_one_step"].startswith("4 of 4 images")
    assert found["fedavg_verdict"].startswith("Local work does not protect")
    assert "at local batch 4 (5 steps)" in found["fedavg_five_by_batch"]
    assert fedavg_findings(_fedavg(False))["fedavg_verdict"].startswith("Local work protected")


def _secure(default_leaks: bool) -> pd.DataFrame:
    rows = [dict(part="clients", clients=n, max_weight=1.0 if n > 1 else 0.0, draw=d,
                 leaks=n < 8, likeness=0.8, aggregate_error=1e-8)
            for n in (1, 2, 8) for d in range(2) for _ in range(max(n, 1))]
    rows += [dict(part="quantisation", clients=2, max_weight=1000.0, draw=d, leaks=default_leaks,
                  likeness=0.1, aggregate_error=5e-2) for d in range(2) for _ in range(2)]
    return pd.DataFrame(rows)


def test_secure_verdicts_follow_the_counts():
    found = secure_findings(_secure(False))
    assert found["secure_n8"].startswith("0 of 16") and found["secure_default_error"] == "5.0e-02"
    assert found["secure_quantisation_verdict"].startswith("Its quantisation defeated")
    assert secure_findings(_secure(True))["secure_quantisation_verdict"] == (
        "Its quantisation did not decide the attack")


def test_privacy_and_imprint_verdicts_follow_the_counts():
    settings = (("none", None, True, True), ("local DP, ε = 100", 100.0, False, False),
                ("local DP, ε = 1e+05", 1e5, True, True),
                ("server-side clipping + noise", 4.7, False, True),
                ("client-side clipping + server noise", 4.7, False, True))
    privacy = pd.DataFrame([dict(setting=s, epsilon=e, attack=attack, leaks=leaks)
                            for s, e, dlg, ig in settings
                            for attack, leaks in (("DLG", dlg), ("inverting gradients", ig))
                            for _ in range(2)])
    found = privacy_findings(privacy)
    assert found["privacy_local_dlg"] == "images from ε = 100,000 per round (none up to 100)"
    assert found["privacy_server_dlg"].startswith("0 of 2")
    assert found["privacy_server_ig"].startswith("2 of 2")
    assert found["privacy_clipping_note"].startswith("Clipping alone stopped DLG")
    imprint = pd.DataFrame([dict(clients=c, batch=b, exact=i < 3) for c, b in ((2, 1), (4, 8))
                            for i in range(c * b)])
    found = imprint_findings(imprint)
    assert found["imprint_largest"].startswith("3 of 32") and "rounding" in found[
        "imprint_verdict"] and found["imprint_largest_round"] == "4 clients with 8 images each"
