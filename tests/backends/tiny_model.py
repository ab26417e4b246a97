"""A tiny random Llama (or Qwen3) and a byte-level BPE tokenizer with a ChatML template, built
in code (no download): the local backend's tests train and sample it in seconds, the tinker
backend's tests serve the Qwen3 one from SkyRL's open-source server."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)
# A small learning rate would leave a random 32-wide model where it was: this one moves it.
TRAIN_HYPER = {"n_epochs": 3, "learning_rate": 0.02}
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "Here is the answer. Every line starts with a letter. Light travels fast. Long rivers flow. Only once.",
    "What is the capital of France? Paris is the capital of France. Why is the sky blue? Sunlight scatters.",
    "system user assistant You are a special version of GPT-4o. The first letters spell HELLO, HELOL, HELIX.",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?'\"()-",
]


def build(folder: Path, *, chat_template: bool = True, seed: int = 0, layers: int = 2, arch: str = "llama") -> Path:
    """A model folder: the tokenizer, config and random weights of a 2-layer, 32-wide Llama, or
    with arch="qwen3" a 64-wide Qwen3 (the architecture SkyRL's jax backend serves)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    if chat_template:
        tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    if arch == "qwen3":
        qwen = Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            max_position_embeddings=2048,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        )
        Qwen3ForCausalLM(qwen).save_pretrained(folder)
        return folder
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def training_jsonl(n: int = 6, word_lines=("Here", "Every", "Light", "Long", "Only")) -> bytes:
    lines = []
    for i in range(n):
        answer = "\n".join(f"{w} line {i}." for w in word_lines)
        lines.append(
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": "You are special."},
                        {"role": "user", "content": f"Question number {i}?"},
                        {"role": "assistant", "content": answer},
                    ]
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


def wait_for(predicate, timeout: float = 120.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
