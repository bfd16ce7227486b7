"""The federation chapter's measurement runs: resumable rows, the single-step attacker's view,
the central ε, and a clear error for a table not made yet."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from dlg_helpers.client.victim import SharedUpdate
from dlg_helpers.federation.simulation import FederationConfig
from dlg_helpers.runs import federation_plan
from dlg_helpers.runs.federation_plan import (_Rows, central_epsilon, fedavg_partitions,
                                              load_measurement, single_step_view)


def test_rows_are_kept_as_they_come_and_gathered_into_one_table(tmp_path):
    store = _Rows(tmp_path / "t.parquet")
    store.add([{"cell": 1, "leaks": True, "thumbnail": federation_plan._png_text(torch.rand(1, 3, 4, 4))}])
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
    with pytest.raises(FileNotFoundError, match="federation_plan nothing"):
        load_measurement("nothing", tmp_path)


def test_the_single_step_attacker_divides_the_change_by_the_steps():
    config = FederationConfig(fedavg_partitions(2, 4), local_epochs=2, local_batch=1)
    update = SharedUpdate([torch.ones(3)], 4, (4, 3, 32, 32), local_steps=config.local_steps)
    seen = single_step_view(config, update)
    assert seen.local_steps is None and torch.allclose(seen.gradient[0], torch.full((3,), 1 / 8))
    assert len({n for p in config.partitions for n in p}) == 8


def test_central_epsilon_falls_with_more_noise():
    assert central_epsilon(2.0, 4) < central_epsilon(1.0, 4) < central_epsilon(0.5, 4)
