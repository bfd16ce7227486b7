"""The federation chapter's measurement runs: a finished table's thumbnails, the single-step
attacker's view, the central ε, and a clear error for a table not made yet."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from dlg_helpers.client.victim import SharedUpdate
from dlg_helpers.federation.simulation import FederationConfig
from dlg_helpers.runs import federation_plan
from dlg_helpers.runs.federation_plan import (central_epsilon, fedavg_partitions,
                                              load_measurement, single_step_view)
from dlg_helpers.runs.table import ResumableTable


def test_a_finished_measurement_has_its_thumbnails_decoded_and_its_rounds_dropped(tmp_path):
    store = ResumableTable(tmp_path / "t.parquet")
    store.add([{"cell": 1, "thumbnail": federation_plan._png_text(torch.rand(1, 3, 4, 4))},
               {"cell": 2, "thumbnail": None}])
    (tmp_path / "t.rounds").mkdir()  # the kept Flower rounds, needed only to resume
    frame = pd.read_parquet(federation_plan._finish(store))
    assert isinstance(frame["thumbnail"][0], bytes) and frame["thumbnail"][1] is None
    assert not (tmp_path / "t.rounds").exists()
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
