"""The federation chapter's tables: every share of images with its count and interval."""

from __future__ import annotations

import pandas as pd

from dlg_helpers.book.federation_tables import (fedavg_table, imprint_table, privacy_table,
                                                quantisation_table, secure_table)
from dlg_helpers.federation.legacy import SecureAggregation
from dlg_helpers.runs.federation_plan import MULTI_STEP, SINGLE_STEP


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
                            for a in ("iDLG", "inverting gradients") for c in range(2)])
    text = privacy_table(privacy).data
    assert "none" in text and "100" in text and "2/2" in text
    assert "leaked, iDLG" in text and "leaked, inverting gradients" in text
    imprint = pd.DataFrame([dict(clients=2, batch=4, image=f"m{i}", exact=i < 7, leaks=i < 7)
                            for i in range(8)])
    assert "7/8" in imprint_table(imprint).data
