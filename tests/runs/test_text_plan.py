"""The text chapter's measurements: each row an attack on fresh messages, scored; a table made
once, resumed when interrupted, and named with its command when missing."""

import pandas as pd
import pytest

from dlg_helpers.client.language_model import encode, gpt2_tokenizer
from dlg_helpers.runs import text_plan

pytestmark = pytest.mark.slow


def test_a_row_scores_one_attack_on_a_fresh_batch():
    batch = encode(gpt2_tokenizer(), ["My PIN is 4821.", "Call Bob."])
    row = text_plan.attack_row(batch, seed=3)
    assert (row["exact"], row["sentences"]) == (2, 2) and row["tokens"] == row["total_tokens"]
    assert row["first_rank"] == row["total_tokens"] and not row["overflowed"]
    hidden = text_plan.attack_row(batch, seed=3, lora_rank=4)  # fewer dimensions than tokens
    assert hidden["exact"] == 0


def test_a_measurement_is_stored_once_and_resumed(tmp_path, monkeypatch):
    monkeypatch.setattr(text_plan, "TRIALS", 2)
    monkeypatch.setattr(text_plan, "LORA_RANKS", (4,))
    monkeypatch.setattr(text_plan, "LORA_BATCH", 1)
    logged = []
    table = text_plan.lora(tmp_path, log=logged.append)
    frame = pd.read_parquet(table)
    assert list(frame["trial"]) == [0, 1] and set(frame["lora_rank"]) == {4}
    assert len(logged) == 2 and not (tmp_path / "lora.partial.jsonl").exists()
    with pytest.raises(FileNotFoundError, match="text_plan nothing"):
        text_plan.load_measurement("nothing", tmp_path)
