"""Load a resolved model with transformers on the chosen device, and speak to it through its
own chat template. Imports torch and transformers: only the training worker and the
inference engine come here.

Devices: CUDA (bfloat16, device_map="auto" so accelerate spreads a model too big for one
GPU over several), else Apple's MPS (float32), else the CPU (float32). Training uses those
dtypes; inference (`inference_dtype`) also runs in bfloat16 on a CPU with bfloat16 matrix
instructions (avx512_bf16 or AMX), about twice float32's speed there; HARNESS_LOCAL_DTYPE
chooses either way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from backends.base import ConfigError
from backends.chat_template import TemplateError, prompt_ids, render, training_example
from backends.local.models import ResolvedModel

__all__ = ["TemplateError", "prompt_ids", "render", "training_example"]  # the chat template's, used from here

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16")
DTYPE_ENV = "HARNESS_LOCAL_DTYPE"


def check_device(name: str) -> str:
    base = name.split(":")[0]
    if base not in DEVICES or (":" in name and base != "cuda"):
        raise ConfigError(f"local backend: device {name!r}: expected one of auto, cpu, cuda, cuda:N, mps")
    return name


def choose_device(preference: str = "auto") -> str:
    import torch

    if preference == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "local backend: device cuda was asked for, but torch sees no CUDA GPU "
            "(a CPU-only torch build, or no driver)"
        )
    if preference == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("local backend: device mps was asked for, but this torch has no MPS")
    return preference


def dtype_name(device: str) -> str:
    """The dtype weights are trained in on `device`."""
    return "bfloat16" if device.startswith("cuda") else "float32"


def check_dtype(name: str) -> str:
    if name not in DTYPES:
        raise ConfigError(f"local backend: dtype {name!r}: expected one of {', '.join(DTYPES)}")
    return name


def inference_dtype(device: str, preference: str = "auto") -> str:
    """The dtype a model answers in: bfloat16 where the device computes it natively (CUDA, or a
    CPU with avx512_bf16 or AMX), else float32; `preference` float32 or bfloat16 decides."""
    if preference != "auto":
        return check_dtype(preference)
    if device.startswith("cuda"):
        return "bfloat16"
    if device == "cpu" and cpu_has_bfloat16():
        return "bfloat16"
    return "float32"


def cpu_has_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (avx512_bf16 or AMX tiles);
    elsewhere torch emulates bfloat16 and is slower than float32."""
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(callable(p) for p in probes):
        return any(callable(p) and p() for p in probes)
    try:  # an older torch without the probes: the kernel's own list
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def quiet_transformers() -> None:
    """No download or de-quantisation progress bars, and no deprecation notices about the
    libraries' own internals, in the harness's output."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\.")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load(model: ResolvedModel, device: str, cache: Path | None = None, dtype: str | None = None):
    """(model, tokenizer), the model in eval mode on `device` in `dtype` (default: the training
    dtype, dtype_name). A GGUF is de-quantized once and kept in `cache` (a folder of the store)
    as float32 safetensors: later loads, in this or a worker process, read those (the same
    numbers, ~1 s instead of ~30 s for SmolLM2-135M)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    folder, kwargs = model.folder, {}
    converted = _converted_folder(model, cache)
    if converted is not None and converted.is_dir():
        folder = str(converted)
    elif model.gguf_file:
        kwargs["gguf_file"] = model.gguf_file
        _quiet_gguf()
    if model.kind == "hub" and model.revision:
        kwargs["revision"] = model.revision
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"local backend: model {model.name!r} has no chat template")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    wanted = getattr(torch, dtype or dtype_name(device))
    lm: Any  # transformers' stubs type .to() too narrowly for a model from from_pretrained
    if device.startswith("cuda"):
        lm = AutoModelForCausalLM.from_pretrained(folder, dtype=wanted, device_map="auto", **kwargs)
    else:
        converting = converted is not None and folder == model.folder
        # A GGUF is kept de-quantized in float32 whatever this load wants, then cast.
        lm = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32 if converting else wanted, **kwargs)
        if converting and converted is not None:
            _save_converted(lm, tokenizer, converted)
        lm = lm.to(device=device, dtype=wanted)
    lm.eval()
    return lm, tokenizer


def _converted_folder(model: ResolvedModel, cache: Path | None) -> Path | None:
    weights = model.weights_path
    if cache is None or not model.gguf_file or weights is None:
        return None
    from backends.local.models import file_sha256

    return cache / file_sha256(weights)[:32]


def _save_converted(lm, tokenizer, folder: Path) -> None:
    """Write the de-quantized model beside the store, whole or not at all (a temporary folder
    renamed into place; a second process converting at the same time loses the rename)."""
    import copy
    import shutil

    from safetensors.torch import save_model

    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    config = copy.deepcopy(lm.config)
    if hasattr(config, "quantization_config"):  # it says "gguf", but the weights are de-quantized
        del config.quantization_config
    try:
        tmp.mkdir(parents=True)
        config.save_pretrained(tmp)
        lm.generation_config.save_pretrained(tmp)
        save_model(lm, str(tmp / "model.safetensors"))  # save_pretrained refuses a model loaded from GGUF
        tokenizer.save_pretrained(tmp)
        os.rename(tmp, folder)
    except OSError:  # a full disk or a concurrent rename: loading worked, the cache is only a saving
        shutil.rmtree(tmp, ignore_errors=True)


def _quiet_gguf() -> None:
    """transformers de-quantizes a GGUF under a tqdm bar of its own that its logging switch does
    not reach: give that module a bar that is switched off."""
    import functools

    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    if not isinstance(gguf_utils.tqdm, functools.partial):
        gguf_utils.tqdm = functools.partial(gguf_utils.tqdm, disable=True)


def input_device(lm):
    """Where inputs go: the embedding's device (the first of several under device_map)."""
    return lm.get_input_embeddings().weight.device


def stop_ids(lm, tokenizer) -> frozenset[int]:
    """Token ids that end an answer: the generation config's eos ids and the tokenizer's."""
    ids: set[int] = set()
    eos = lm.generation_config.eos_token_id
    if isinstance(eos, int):
        ids.add(eos)
    elif eos:
        ids.update(eos)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return frozenset(ids)
