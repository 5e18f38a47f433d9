"""Client address from X-Forwarded-For, only through trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest
from fuelhub_auth.netaddr import client_address

TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: header ignored
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # spoofed left part ignored
        ("127.0.0.1", "198.51.100.1, 10.1.1.1", "198.51.100.1"),  # two trusted hops
        ("127.0.0.1", "garbage, 198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "198.51.100.1, garbage", "127.0.0.1"),  # unparsable hop: stop
        ("127.0.0.1", "10.2.2.2, 10.1.1.1", "10.2.2.2"),  # all trusted: the farthest
        ("127.0.0.1", " 2001:db8::1 ", "2001:db8::1"),
        (None, "1.2.3.4", "unknown"),
        ("not-an-ip", "1.2.3.4", "not-an-ip"),
    ],
)
def test_client_address(peer: str | None, xff: str | None, expected: str) -> None:
    assert client_address(peer, xff, TRUSTED) == expected
