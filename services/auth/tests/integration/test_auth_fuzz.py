"""Random bodies and headers against every public endpoint: never a 5xx."""

from __future__ import annotations

import json

import pytest
from fuelhub_auth.testing import AuthHarness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

PATHS = ["/api/v1/token/", "/api/v1/token/refresh/", "/oauth/token", "/oauth/revoke"]
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "text/plain",
    "",
    "application/json; charset=latin-1",
]
KEYS = st.sampled_from(
    [
        "username",
        "password",
        "refresh",
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
        "token",
    ]
) | st.text(max_size=10)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def header_bytes(value: str) -> bytes:
    # Any octets a client may send in a header value (no line breaks or NUL).
    return value.encode("utf-8").translate(None, b"\r\n\x00")


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["json", "form", "raw"]))
    if kind == "json":
        document = draw(st.dictionaries(KEYS, JSONISH, max_size=4) | JSONISH)
        return json.dumps(document).encode()
    if kind == "form":
        pairs = draw(st.lists(st.tuples(KEYS, st.text(max_size=40)), max_size=5))
        from urllib.parse import urlencode

        return urlencode(pairs).encode()
    return draw(st.binary(max_size=300))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(PATHS),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=bodies(),
    authorization=st.none() | st.text(max_size=40).map(lambda s: "Basic " + s) | st.just("Basic"),
    forwarded=st.none() | st.text(max_size=30),
)
async def test_no_server_errors(
    auth: AuthHarness,
    path: str,
    content_type: str,
    body: bytes,
    authorization: str | None,
    forwarded: str | None,
) -> None:
    headers: dict[str, bytes] = {"content-type": content_type.encode()}
    if authorization is not None:
        headers["authorization"] = header_bytes(authorization)
    if forwarded is not None:
        headers["x-forwarded-for"] = header_bytes(forwarded)
    response = await auth.client.post(path, content=body, headers=headers)
    assert response.status_code < 500, (path, body, response.text)
    assert response.headers.get("content-type", "").startswith("application/json") or not (
        response.content
    )
