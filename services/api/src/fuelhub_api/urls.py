"""The public base URL clients see: from the gateway's X-Forwarded-* headers when the peer is a
trusted proxy, else from the request itself. Every part is validated, because it is pasted into
JSON bodies (icon URLs, ``next`` links) and a forged Host must not inject anything there."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from fuelhub_api.settings import Network

_HOST = re.compile(
    r"(?:[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::[0-9]{1,5})?"
)
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~-]+){0,8}")


# The peer address fuelhub_api.server gives connections on the API's Unix socket: only local
# processes allowed by the socket file's permissions reach it (the gateway), so they are trusted.
UNIX_PEER = "unix"


def is_trusted(peer: str | None, trusted: Sequence[Network]) -> bool:
    if not peer:
        return False
    if peer == UNIX_PEER:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def _first(value: str | None) -> str | None:
    if value is None:
        return None
    return value.split(",", 1)[0].strip() or None


def public_base(
    *,
    scheme: str,
    host: str | None,
    fallback_host: str,
    peer: str | None,
    headers: Mapping[str, str],
    trusted: Sequence[Network],
) -> str:
    """``scheme://host[/prefix]`` with no trailing slash."""
    if scheme not in ("http", "https"):
        scheme = "http"
    prefix = ""
    if is_trusted(peer, trusted):
        proto = _first(headers.get("x-forwarded-proto"))
        if proto in ("http", "https"):
            scheme = proto
        forwarded_host = _first(headers.get("x-forwarded-host"))
        if forwarded_host and _HOST.fullmatch(forwarded_host):
            host = forwarded_host
        forwarded_prefix = _first(headers.get("x-forwarded-prefix"))
        if forwarded_prefix and _PREFIX.fullmatch(forwarded_prefix.rstrip("/")):
            prefix = forwarded_prefix.rstrip("/")
    if not host or not _HOST.fullmatch(host):
        host = fallback_host
    return f"{scheme}://{host}{prefix}"


def page_link(base: str, path: str, params: Sequence[tuple[str, str | int]]) -> str:
    """An absolute link to ``path`` with ``params`` in the given order."""
    query = urlencode([(k, str(v)) for k, v in params])
    return f"{base}{path}?{query}" if query else f"{base}{path}"
