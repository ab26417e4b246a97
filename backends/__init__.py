"""Backend registry: a name maps to "module:Class"; other packages add theirs through the
entry-point group `harness.backends` (value "module:Class")."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from backends.base import Backend, ConfigError

ENTRY_POINT_GROUP = "harness.backends"

# Built-in providers. Adding one is one line here (or an entry point elsewhere).
BUILTIN: dict[str, str] = {
    "mock": "backends.mock:MockBackend",
    "openai": "backends.openai:OpenAIBackend",
    "local": "backends.local:LocalBackend",
    "tinker": "backends.tinker:TinkerBackend",
}


def registered() -> dict[str, str]:
    """All known backends, built-in first; an entry point may not shadow a built-in."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def load_class(name: str) -> type[Backend]:
    targets = registered()
    if name not in targets:
        known = ", ".join(sorted(targets))
        shown = name if len(name) <= 60 else name[:59] + "…"  # an error quotes its input briefly
        raise ConfigError(f"unknown backend {shown!r}; known backends: {known}")
    target = targets[name]
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:  # a plugin that is registered but broken
        raise ConfigError(f"backend {name!r} is registered as {target} but cannot be loaded: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigError(
            f"backend {name!r} is registered as {target}, which is not a subclass of backends.base.Backend"
        )
    return cls


def create(name: str, **options: Any) -> Backend:
    """Instantiate a backend; options the class does not accept are dropped."""
    cls = load_class(name)
    return cls(**{k: v for k, v in options.items() if k in cls.OPTIONS and v is not None})
