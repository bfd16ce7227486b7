"""DAGER recovers sentences it has never seen, exactly, from a GPT-2 update alone; the adapter's
rank and noise on the update decide where that stops."""

import pytest

import torch

from dlg_helpers.attack.dager import FirstBlock, candidates, dager, gradient_span
from dlg_helpers.client.language_model import (encode, gpt2_tokenizer, private_messages, text_model,
                                     text_update, with_lora)
from dlg_helpers.measures.text_recovery import score_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tokenizer():
    return gpt2_tokenizer()


def test_a_batch_of_fresh_messages_comes_back_exactly(tokenizer):
    messages = private_messages(3, seed=20261207)  # drawn here: not stored anywhere
    batch = encode(tokenizer, messages)
    model = text_model(layers=2, seed=5)
    result = dager(model, text_update(model, batch))
    assert score_text(result.sequences, batch.sequences).exact == 3
    assert [tokenizer.decode(s) for s in result.sequences] == sorted(
        messages, key=lambda m: tokenizer(m)["input_ids"])
    # the first block's span: one dimension per distinct (token, position) the loss reaches
    distinct = {(t, p) for s in batch.sequences for p, t in enumerate(s)}
    assert result.ranks[0] == len(distinct)


def test_the_first_block_run_a_token_at_a_time_gives_the_full_forward_pass(tokenizer):
    tokens = tokenizer("Call Bob at 555 0142.")["input_ids"]
    for model in (text_model(layers=2, seed=4), with_lora(text_model(layers=2, seed=4), rank=8)):
        seen = []
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        handle = base.transformer.h[1].ln_1.register_forward_hook(
            lambda module, inputs, output: seen.append(output[0].detach()))
        with torch.no_grad():
            model(input_ids=torch.tensor([tokens]))
        handle.remove()
        block = FirstBlock(model)
        keys, values = block.empty()
        for position, token in enumerate(tokens):
            inputs, key, value = block.step(keys, values, torch.tensor([0]), torch.tensor([token]),
                                            position)
            keys, values = torch.cat([keys, key], 2), torch.cat([values, value], 2)
            torch.testing.assert_close(inputs[0], seen[0][position], rtol=1e-4, atol=1e-5)


def test_the_first_block_names_the_tokens_at_each_position(tokenizer):
    batch = encode(tokenizer, ["My PIN is 4821."])
    model = text_model(layers=2, seed=0)
    span = gradient_span(model, text_update(model, batch), 0)
    first = batch.sequences[0][0]
    assert first in candidates(model, span, 0)
    assert set(candidates(model, span, 0)) <= set(batch.sequences[0])


def test_lora_hides_a_batch_only_when_its_rank_is_below_the_tokens(tokenizer):
    batch = encode(tokenizer, ["Hi Anna, my PIN is 4821.", "Call Bob at 555 0142."])
    tokens = sum(len(s) for s in batch.sequences)
    wide = with_lora(text_model(layers=2, seed=1), rank=64, seed=1)
    assert score_text(dager(wide, text_update(wide, batch)).sequences, batch.sequences).exact == 2
    narrow = with_lora(text_model(layers=2, seed=1), rank=4, seed=1)
    assert tokens > 4
    assert score_text(dager(narrow, text_update(narrow, batch)).sequences,
                      batch.sequences).exact == 0


def test_noise_well_below_the_gradient_changes_nothing_and_noise_above_it_stops_recovery(
        tokenizer):
    batch = encode(tokenizer, ["Hi Anna, my PIN is 4821.", "Call Bob at 555 0142."])
    model = text_model(layers=2, seed=2)
    spread = float(text_update(model, batch).gradients["transformer.h.0.attn.c_attn.weight"].std())
    faint = dager(model, text_update(model, batch, noise=spread / 1000, seed=3))
    assert score_text(faint.sequences, batch.sequences).exact == 2
    loud = dager(model, text_update(model, batch, noise=spread, seed=3))
    assert score_text(loud.sequences, batch.sequences).exact == 0


def test_tag_moves_its_guess_towards_the_shared_gradient_and_refuses_another_models_update(
        tokenizer):
    from dlg_helpers.attack.tag import tag

    batch = encode(tokenizer, ["Hi Bob"])
    model = text_model(layers=1, seed=0)
    update = text_update(model, batch)
    result = tag(model, update, messages=1, length=len(batch.sequences[0]), steps=8, lr=0.1)
    # measured: the distance falls by about 4 % over these first steps
    assert result.distances[-1] < 0.99 * result.distances[0] and len(result.sequences[0]) == 2
    other = with_lora(text_model(layers=1, seed=0), rank=4)
    with pytest.raises(KeyError, match="attack the model it came from"):
        tag(other, update, messages=1, length=2, steps=1)


def test_messages_recovered_alone_are_recovered_in_one_batch_and_vice_versa(tokenizer):
    messages = private_messages(3, seed=31)
    model = text_model(layers=2, seed=6)
    alone = [score_text(dager(model, text_update(model, encode(tokenizer, [m]))).sequences,
                        encode(tokenizer, [m]).sequences).exact for m in messages]
    batch = encode(tokenizer, messages)
    together = score_text(dager(model, text_update(model, batch)).sequences, batch.sequences)
    assert together.exact == sum(alone) == 3
