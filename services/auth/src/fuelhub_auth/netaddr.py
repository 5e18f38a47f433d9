"""The client's address, from ``X-Forwarded-For`` only when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from fuelhub_auth.settings import Network


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """Walk ``X-Forwarded-For`` from the right past trusted proxies; the first untrusted hop is
    the client. A client can prepend anything to the header, so only hops added by proxies we
    trust count; an unparsable hop ends the walk."""
    current = _parse(peer or "")
    if current is None:
        return peer or "unknown"

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in trusted)

    if not is_trusted(current) or not forwarded_for:
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        parsed = _parse(hop)
        if parsed is None:
            break
        current = parsed
        if not is_trusted(current):
            break
    return str(current)
