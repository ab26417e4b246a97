"""Where the local backend keeps its files, jobs and models: a backends.jobs.store.Store
under $HARNESS_LOCAL_STORE or the user's cache folder, plus (local only)

    <store>/jobs/<job-id>/adapter/         the trained LoRA adapter
    <store>/converted/<hash of a GGUF>/    that GGUF de-quantized once (backends.local.loading)
"""

from __future__ import annotations

from pathlib import Path

from backends.jobs.store import cache_root

STORE_ENV = "HARNESS_LOCAL_STORE"
PROVIDER = "local"


def default_store() -> Path:
    """$HARNESS_LOCAL_STORE, else the user's cache folder (XDG on Linux, Library/Caches on macOS)."""
    return cache_root(PROVIDER, STORE_ENV)
