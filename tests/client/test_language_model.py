"""The text client: GPT-2's tokenizer offline, private messages from a seed, the batch a client
trains on, and the update it shares (every weight's gradient, or LoRA adapters', with noise)."""

import pytest

from dlg_helpers.client.language_model import (EOS, encode, gpt2_tokenizer, private_messages,
                                               text_model, text_update, with_lora)


@pytest.fixture(scope="module")
def tokenizer():
    return gpt2_tokenizer()


def test_the_tokenizer_is_gpt2s_and_loads_offline(tokenizer):
    assert len(tokenizer) == 50257
    assert tokenizer("Hello world")["input_ids"] == [15496, 995]  # GPT-2's own ids
    assert tokenizer.decode([15496, 995]) == "Hello world"


def test_messages_are_the_same_for_a_seed_and_differ_across_seeds():
    first = private_messages(6, seed=3)
    assert first == private_messages(6, seed=3) and first != private_messages(6, seed=4)
    assert all(message and "\n" not in message for message in first)


def test_a_batch_ends_each_message_with_the_end_token_and_pads_with_it(tokenizer):
    batch = encode(tokenizer, ["My PIN is 4821.", "Hi"])
    assert batch.input_ids.shape == (2, len(tokenizer("My PIN is 4821.")["input_ids"]) + 1)
    assert batch.sequences == [tokenizer("My PIN is 4821.")["input_ids"], tokenizer("Hi")["input_ids"]]
    assert int(batch.input_ids[1, 1]) == EOS and batch.attention_mask[1].tolist()[:3] == [1, 1, 0]


def test_bad_batches_are_refused_with_the_fix(tokenizer):
    with pytest.raises(ValueError, match="at least one"):
        encode(tokenizer, [])
    with pytest.raises(ValueError, match="message 2 is empty"):
        encode(tokenizer, ["Hello", ""])
    with pytest.raises(ValueError, match="more than the model's context of 7; shorten"):
        encode(tokenizer, ["one two three four five six seven eight nine"], max_positions=8)


def test_the_update_is_every_weights_gradient_or_the_adapters_with_noise_on_request(tokenizer):
    model = text_model(layers=1, seed=0)
    assert model.config.n_embd == 768 and model.training
    batch = encode(tokenizer, ["Call me at 555 0142."])
    clean = text_update(model, batch)
    assert set(clean.gradients) == {n for n, _ in model.named_parameters()}
    assert clean.lora_rank is None and clean.sequences == 1
    noisy = text_update(model, batch, noise=0.1, seed=1)
    change = noisy.gradients["transformer.h.0.attn.c_attn.weight"] - clean.gradients[
        "transformer.h.0.attn.c_attn.weight"]
    assert float(change.std()) == pytest.approx(0.1, rel=0.02)  # noise of the asked spread
    adapted = with_lora(text_model(layers=1, seed=0), rank=8)
    lora = text_update(adapted, batch)
    assert lora.lora_rank == 8 and all("lora_" in name for name in lora.gradients)
    with pytest.raises(ValueError, match="positive number"):
        with_lora(text_model(layers=1), rank=0)
    with pytest.raises(ValueError, match="standard deviation"):
        text_update(model, batch, noise=-1.0)


def test_a_dp_sgd_update_is_the_mean_of_clipped_per_message_gradients_plus_noise(tokenizer):
    import torch

    from dlg_helpers.client.defences import release_noise
    from dlg_helpers.client.language_model import dp_text_update, from_tokens

    model = text_model(layers=1, seed=0)
    batch = encode(tokenizer, ["My PIN is 4821.", "Call Bob"])
    alone = [text_update(model, from_tokens([tokens])) for tokens in batch.sequences]
    name = "transformer.h.0.attn.c_attn.weight"
    exact = dp_text_update(model, batch, noise_multiplier=0.0, clip=1e9)  # neither clip nor noise
    torch.testing.assert_close(exact.gradients[name],
                               (alone[0].gradients[name] + alone[1].gradients[name]) / 2,
                               rtol=1e-4, atol=1e-7)
    clipped = dp_text_update(model, batch, noise_multiplier=0.0, clip=1e-3)
    total = torch.sqrt(sum((2 * g).pow(2).sum() for g in clipped.gradients.values()))
    assert float(total) <= 2 * 1e-3 * 1.001  # two messages, each clipped to 1e-3
    noisy = dp_text_update(model, batch, noise_multiplier=release_noise(10.0), clip=1.0, seed=1)
    assert noisy.noise == pytest.approx(release_noise(10.0) / 2)
    assert release_noise(1.0) > release_noise(10.0) > 0
    with pytest.raises(ValueError, match="positive privacy budget"):
        release_noise(0.0)
