"""A tiny randomly initialised Llama with a real tokenizer and chat template, for fast tests.

Deterministic for a seed: the same arguments write byte-identical weights. With ``vocab_from``
it speaks the tokenizer and chat template of a real model (e.g. the converted SmolLM2), so
prompts and adapters built for that model fit it; otherwise it gets a byte-level tokenizer
(every string encodes, nothing to download) and a ChatML template.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .info import ModelInfo, describe_model
from .portable import make_portable

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2 as in SmolLM2
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)


def byte_level_tokenizer():  # -> transformers.PreTrainedTokenizerFast
    """A byte-level BPE tokenizer without merges: 3 special tokens and the 256 bytes (259 ids)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({symbol: len(SPECIAL_TOKENS) + index for index, symbol in enumerate(sorted(alphabet))})
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",  # noqa: S106 (a token, not a password)
        pad_token="<|endoftext|>",  # noqa: S106
        unk_token=None,
        bos_token=None,
        chat_template=CHATML_TEMPLATE,
        model_max_length=2048,
    )


def tiny_random_model(
    path: Path,
    *,
    vocab_from: ModelInfo | None = None,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    seed: int = 0,
    initializer_range: float = 0.02,
    context: int = 2048,
) -> ModelInfo:
    """Write a tiny Llama-architecture causal LM into ``path`` (created; must be empty if it exists).

    With the default ``initializer_range`` its next-token distribution is close to uniform;
    a larger one (e.g. 0.3) gives it peaked, varied distributions, which training tests need
    to see a learning signal move outputs within a few steps. ``context`` is its longest
    sequence in tokens (the byte-level tokenizer makes a long skill thousands of tokens).
    """
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"{path} is not empty")
    path.mkdir(parents=True, exist_ok=True)

    if vocab_from is not None:
        tokenizer = AutoTokenizer.from_pretrained(vocab_from.path, local_files_only=True)
        for name in TOKENIZER_FILES:  # the files as they are, so the template hash is the same
            if (vocab_from.path / name).is_file():
                shutil.copyfile(vocab_from.path / name, path / name)
    else:
        tokenizer = byte_level_tokenizer()
        tokenizer.save_pretrained(path)
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),  # grouped-query attention, as in SmolLM2
        max_position_embeddings=context,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos,
        pad_token_id=pad,
        initializer_range=initializer_range,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=eos, pad_token_id=pad
    )
    model.save_pretrained(path)
    make_portable(path)
    return describe_model(path.resolve(), id=str(path.resolve()), source="local")
