"""Reaching Tinker: the key (TINKER_API_KEY), the address (--api-base, TINKER_BASE_URL or the
client's default), the official client, and its errors as ours. The `tinker` package is
imported only when a client is made.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from backends.base import AccountError, BackendError, ConfigError

KEY_ENV = "TINKER_API_KEY"
BASE_ENV = "TINKER_BASE_URL"
# The official client's own default (tinker 0.25, tinker/_client.py), named here for messages.
DEFAULT_BASE = "https://tinker.thinkingmachines.dev/services/tinker-prod"
CONNECT_TIMEOUT = 10.0


def settings(api_key: str | None, api_base: str | None) -> tuple[str, str]:
    """(key, base URL), or ConfigError (exit 2, before anything is created) saying how to fix it."""
    key = api_key or os.environ.get(KEY_ENV)
    if not key:
        raise ConfigError(
            f"tinker backend: {KEY_ENV} is not set: export your key from the Tinker console (tml-...); "
            "the open-source test server takes any key that starts with tml-"
        )
    if not key.startswith(("tml-", "eyJ")):  # the client refuses others (an API key or a JWT)
        raise ConfigError(f"tinker backend: {KEY_ENV} must start with tml- (a Tinker API key)")
    base = (api_base or os.environ.get(BASE_ENV) or DEFAULT_BASE).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        source = "--api-base" if api_base else BASE_ENV
        raise ConfigError(f"tinker backend: {source} {base!r} is not an http(s) URL")
    return key, base


def service(key: str, base: str):
    """The official client's ServiceClient (it fetches its configuration on first use)."""
    from tinker import ServiceClient

    return ServiceClient(base_url=base, api_key=key)


def check_reachable(base: str, doing: str) -> None:
    """Fail at once, saying what the run was doing, when nothing answers at the address (a
    stopped server, a wrong port or host), rather than let the client retry for minutes."""
    parts = urlsplit(base)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=CONNECT_TIMEOUT):
            return
    except OSError as e:
        reason = "connection refused" if isinstance(e, ConnectionRefusedError) else type(e).__name__
        raise BackendError(f"{doing}: cannot reach {base} ({reason}; is the server running?)", status=None) from None


def as_backend_error(exc: BaseException, doing: str) -> BackendError:
    """A client error as ours: a refused key stops the run at once (AccountError); otherwise its
    HTTP status when there was one; rate limits, conflicts, 5xx, timeouts and lost connections
    retryable (the client has retried them already, so the harness's own caller decides),
    everything else final."""
    import tinker

    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, (tinker.AuthenticationError, tinker.PermissionDeniedError)):
        return AccountError(
            f"{doing}: the service refused the key ({exc.status_code} {exc.message}); check {KEY_ENV}",
            status=exc.status_code,
        )
    if isinstance(exc, tinker.APIStatusError):
        status = exc.status_code
        retryable = status in (408, 409, 429) or status >= 500
        return BackendError(f"{doing}: {status} {exc.message}", status=status, retryable=retryable)
    if isinstance(exc, tinker.APIConnectionError):
        return BackendError(f"{doing}: {type(exc).__name__}: {exc}", retryable=True)
    if isinstance(exc, tinker.RequestFailedError):
        return BackendError(f"{doing}: the service failed the request: {exc.message}", status=500)
    return BackendError(f"{doing}: {type(exc).__name__}: {exc}", status=500)
