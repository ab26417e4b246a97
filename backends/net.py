"""Is this host (or this URL's host) loopback? One answer for the simulator's bind check and
for labelling recordings as made against the simulator. Standard library only."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})


def _host(host_or_url: str) -> str:
    text = host_or_url.strip()
    if "//" not in text:
        bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        try:
            return str(ipaddress.ip_address(bare))  # a bare address, IPv6 ones included ("::1")
        except ValueError:
            text = "//" + text  # a name, maybe with a port: let urlsplit take the port off
    try:
        return urlsplit(text).hostname or ""
    except ValueError:  # e.g. an unbalanced "[" in the netloc
        return ""


def is_loopback(host_or_url: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost, given bare ("::1", "[::1]", "localhost:8000")
    or as a URL ("http://[::1]:8000/v1"); False for anything else, empty or unparsable."""
    host = _host(host_or_url or "").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
