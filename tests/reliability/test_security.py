"""Attacks on the running system, through the nginx gateway as a client would send them.

Forged and misused tokens, SQL injection and oversize strings in every query parameter,
``limit``/``offset`` abuse, the admin's login and CSRF defences, hostile image uploads, and
schemathesis against the API's and auth's own OpenAPI documents. Nothing may answer 5xx, leak
why a token was refused, or change any data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import time
from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fuelhub_auth.issuing import mint_access
from fuelhub_auth.keys import SigningKey, load_key_dir, new_signing_key
from fuelhub_common.system import ADMIN_PASSWORD, LocalSystem
from fuelhub_common.testing import run_schemathesis
from fuelhub_store.admin.testing import png, png_bomb
from PIL import Image
from schemathesis import checks

from .conftest import data_fingerprint

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

AUDIENCE = "fuelhub-api"
DATA_PATHS = ["/api/v1/fuel-stations", "/api/v2/fuel-stations", "/api/v2/fuel-types"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def signed_raw(header: dict[str, Any], claims: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """A JWS made by hand, so a test controls every header field (or leaves one out)."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    signature = key.sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{b64(signature)}"


def signing_key(system: LocalSystem) -> SigningKey:
    return max(load_key_dir(system.workdir / "keys"), key=lambda k: k.created_at)


def forged_tokens(system: LocalSystem) -> dict[str, str]:
    """Every way to fake or misuse a token that the auth issue names, and a few more."""
    key = signing_key(system)
    private = key.key.private_key
    assert isinstance(private, Ed25519PrivateKey)
    issuer = system.gateway
    now = int(time.time())
    pair = httpx.post(
        f"{system.gateway}/api/v1/token/",
        json={"username": "demo", "password": "demo12345"},
        timeout=30,
    ).json()
    real = pair["access"]
    header, claims = unb64(real.split(".")[0]), unb64(real.split(".")[1])

    def minted(**overrides: Any) -> str:
        return mint_access(
            key=overrides.pop("key", key),
            issuer=overrides.pop("issuer", issuer),
            audience=overrides.pop("audience", AUDIENCE),
            subject="demo",
            scopes=overrides.pop("scopes", ["stations:read", "admin"]),
            ttl_seconds=overrides.pop("ttl", 900),
            now=overrides.pop("now", now),
        ).token

    elevated = {**claims, "scope": "stations:read admin"}
    none_header = b64(json.dumps({**header, "alg": "none"}).encode())
    hs_header = b64(json.dumps({**header, "alg": "HS256"}).encode())
    body = b64(json.dumps(elevated).encode())
    public_jwk = json.dumps(key.public_jwk()).encode()
    public_x = base64.urlsafe_b64decode(key.public_jwk()["x"] + "==")
    stranger = Ed25519PrivateKey.generate()
    return {
        "expired": minted(now=now - 7200),
        "not yet valid": minted(now=now + 3600),
        "unknown key": minted(key=new_signing_key()),
        "tampered payload": f"{real.split('.')[0]}.{body}.{real.split('.')[2]}",
        "impostor key claiming the real kid": signed_raw(header, elevated, stranger),
        "alg none": f"{none_header}.{body}.",
        "alg none with the real signature": f"{none_header}.{body}.{real.split('.')[2]}",
        "HS256 with the public JWK": f"{hs_header}.{body}."
        + b64(hmac.new(public_jwk, f"{hs_header}.{body}".encode(), hashlib.sha256).digest()),
        "HS256 with the raw public key": f"{hs_header}.{body}."
        + b64(hmac.new(public_x, f"{hs_header}.{body}".encode(), hashlib.sha256).digest()),
        "wrong audience": minted(audience="another-api"),
        "wrong issuer": minted(issuer="http://evil.test"),
        "missing kid": signed_raw({"alg": "EdDSA", "typ": "at+jwt"}, elevated, private),
        "kid path traversal": signed_raw(
            {**header, "kid": "../../../../etc/passwd"}, elevated, stranger
        ),
        "jku pointing elsewhere": signed_raw(
            {**header, "kid": "evil", "jku": "http://127.0.0.1:1/jwks.json"}, elevated, stranger
        ),
        "embedded jwk": signed_raw(
            {
                **header,
                "jwk": {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": b64(stranger.public_key().public_bytes_raw()),
                },
            },
            elevated,
            stranger,
        ),
        "wrong typ (id token)": signed_raw({**header, "typ": "JWT"}, elevated, private),
        "refresh token used as access": pair["refresh"],
        "garbage": "not.a.token",
    }


@pytest.fixture(scope="module")
def demo_token(system: LocalSystem) -> str:
    return system.token()


@pytest.fixture(scope="module")
def baseline(system: LocalSystem) -> tuple[Any, ...]:
    return data_fingerprint(system.database_url)


def test_forged_and_misused_tokens_are_refused_at_every_door_without_a_reason(
    system: LocalSystem, demo_token: str
) -> None:
    tokens = forged_tokens(system)
    refusals: dict[str, set[str]] = {}
    for name, token in tokens.items():
        for path in [*DATA_PATHS, "/accounts/users"]:
            response = httpx.get(
                f"{system.gateway}{path}",
                headers={"Authorization": f"Bearer {token}".strip()},
                timeout=30,
            )
            assert response.status_code == 401, (name, path, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer"), (name, path)
            refusals.setdefault(path, set()).add(response.text)
    # One body per door whatever was wrong: no reason leaks to an attacker.
    for path, bodies in refusals.items():
        assert len(bodies) == 1, (path, bodies)
    # Without any token: 401 too (this answer may say a token is needed; that leaks nothing).
    for path in [*DATA_PATHS, "/accounts/users"]:
        for header in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic ZGVtbzpkZW1v"}):
            response = httpx.get(f"{system.gateway}{path}", headers=header, timeout=30)
            assert response.status_code == 401, (path, header)
    # The real token still works (the attacks changed nothing).
    for path in DATA_PATHS:
        ok = httpx.get(f"{system.gateway}{path}", headers=system.auth(demo_token), timeout=30)
        assert ok.status_code == 200, path


def test_a_token_without_the_read_scope_reads_nothing(system: LocalSystem) -> None:
    key = signing_key(system)
    scopeless = mint_access(
        key=key,
        issuer=system.gateway,
        audience=AUDIENCE,
        subject="demo",
        scopes=[],
        ttl_seconds=900,
        now=int(time.time()),
    ).token
    for path in DATA_PATHS:
        response = httpx.get(f"{system.gateway}{path}", headers=system.auth(scopeless))
        assert response.status_code in (401, 403), (path, response.status_code)


def refresh(system: LocalSystem, token: str) -> httpx.Response:
    return httpx.post(
        f"{system.gateway}/api/v1/token/refresh/", json={"refresh": token}, timeout=30
    )


def test_refresh_reuse_revokes_the_family_and_revoked_tokens_stay_dead(
    system: LocalSystem,
) -> None:
    login = {"username": "demo", "password": "demo12345"}
    r1 = httpx.post(f"{system.gateway}/api/v1/token/", json=login, timeout=30).json()["refresh"]
    r2 = refresh(system, r1).json()["refresh"]
    r3 = refresh(system, r2).json()["refresh"]  # r2's successor used: r1 is now stale
    reuse = refresh(system, r1)
    assert reuse.status_code == 401
    for token in (r1, r2, r3):  # the whole family is revoked, the newest included
        assert refresh(system, token).status_code == 401

    other = httpx.post(f"{system.gateway}/api/v1/token/", json=login, timeout=30).json()
    revoked = httpx.post(
        f"{system.gateway}/oauth/revoke",
        data={"token": other["refresh"], "token_type_hint": "refresh_token"},
        timeout=30,
    )
    assert revoked.status_code == 200
    assert refresh(system, other["refresh"]).status_code == 401
    # A forged refresh token (signed by a stranger) is no way around it either.
    header, claims = (unb64(p) for p in other["refresh"].split(".")[:2])
    forged = signed_raw(header, claims, Ed25519PrivateKey.generate())
    assert refresh(system, forged).status_code == 401


# --- hostile query parameters ---

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE store.station_docs; --",
    "1) UNION SELECT username, password_hash FROM auth.users --",
    "1' AND pg_sleep(5) IS NULL --",
    "$$; DELETE FROM store.stations; $$",
    "\\x00",
    "%00",
    "\u202e\u200b\ufeff",
    "𝔄" * 300,
    "x" * 7000,  # just under nginx's request-line buffer
    "-1",
    "99999999999999999999999999",
    "NaN",
    "1e308",
    "[]",
    "{}",
]


def query_parameters(system: LocalSystem) -> list[tuple[str, str]]:
    """(path, parameter) for every query parameter of every GET operation the API documents."""
    document = httpx.get(f"{system.gateway}/api/openapi.json", timeout=30).json()
    found = []
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None or path == "/api/v2/changes":  # the stream never ends; own tests
            continue
        concrete = path.replace("{station_id}", "1").replace("{id}", "1")
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                found.append((concrete, parameter["name"]))
    assert len(found) >= 12, found
    return found


def test_injection_and_oversize_strings_in_every_query_parameter(
    system: LocalSystem, demo_token: str, baseline: tuple[Any, ...]
) -> None:
    statuses: Counter[int] = Counter()
    slowest = 0.0
    with httpx.Client(base_url=system.gateway, headers=system.auth(demo_token), timeout=30) as c:
        for path, name in query_parameters(system):
            for value in INJECTIONS:
                started = time.monotonic()
                response = c.get(path, params={name: value})
                slowest = max(slowest, time.monotonic() - started)
                statuses[response.status_code] += 1
                assert response.status_code < 500, (path, name, value[:40], response.text[:200])
            # Also as a path segment where the API takes an id.
        for value in INJECTIONS:
            response = c.get(f"/api/v2/fuel-stations/{value}")
            assert response.status_code < 500, (value[:40], response.text[:200])
        huge = c.get("/api/v1/fuel-stations", params={"limit": "9" * 20_000})
        assert huge.status_code in (400, 414), huge.status_code
    assert slowest < 4.0, f"a request took {slowest:.1f} s (pg_sleep reached the database?)"
    assert statuses[400] > 0, statuses
    assert statuses[200] > 0, statuses
    assert data_fingerprint(system.database_url) == baseline


PAGING_ABUSE: list[tuple[str, set[int]]] = [
    ("limit=-1", {400}),
    ("limit=-9223372036854775808", {400}),
    ("limit=abc", {400}),
    ("limit=1.5", {400}),
    ("limit=1e3", {400}),
    ("limit=0x10", {400}),
    ("limit=9223372036854775807", {200}),  # clamped to the cap
    ("limit=99999999999999999999999999", {200, 400}),
    ("limit=1&limit=2", {200, 400}),
    ("limit=", {200, 400}),
    ("limit[]=1", {200, 400}),
]
V1_ABUSE = [
    ("offset=-1", {400}),
    ("offset=abc", {400}),
    ("offset=9223372036854775807", {200}),  # past the end: an empty page
    ("offset=99999999999999999999999999", {200, 400}),
    ("limit=1000000&offset=1000000", {200}),
]
V2_ABUSE = [  # v2 pages by keyset (``after``), not offset
    ("after=abc", {400}),
    ("after=-1", {400}),
    ("after=" + "A" * 4000, {400}),
    ("after=9223372036854775807&limit=1000000", {200, 400}),
]


@pytest.mark.parametrize(
    ("path", "abuse"),
    [("/api/v1/fuel-stations", V1_ABUSE), ("/api/v2/fuel-stations", V2_ABUSE)],
    ids=["v1", "v2"],
)
def test_limit_and_offset_abuse(
    system: LocalSystem,
    demo_token: str,
    baseline: tuple[Any, ...],
    path: str,
    abuse: list[tuple[str, set[int]]],
) -> None:
    with httpx.Client(base_url=system.gateway, headers=system.auth(demo_token), timeout=30) as c:
        for query, allowed in PAGING_ABUSE + abuse:
            started = time.monotonic()
            response = c.get(f"{path}?{query}")
            took = time.monotonic() - started
            assert response.status_code in allowed, (query, response.status_code, response.text)
            assert took < 3.0, (query, took)
            if response.status_code == 200:
                assert len(response.json()["results"]) <= 1000, query  # the cap holds
            else:
                assert "detail" in response.json() or response.text, query
    assert data_fingerprint(system.database_url) == baseline


# --- the admin: only administrators, only with our origin and the form's token ---


def admin_client(system: LocalSystem) -> httpx.Client:
    return httpx.Client(base_url=system.gateway, headers={"Origin": system.gateway}, timeout=30)


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/admin/login", data={"username": username, "password": password})


def form_token(client: httpx.Client, page: str) -> str:
    response = client.get(page)
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert response.status_code == 200, (page, response.status_code)
    assert match, page
    return match[1]


def test_admin_refuses_strangers_and_non_admins(system: LocalSystem) -> None:
    with admin_client(system) as client:
        for page in ("/admin/", "/admin/status", "/admin/accounts", "/admin/fuel-type/list"):
            response = client.get(page)
            assert response.status_code == 302, page
            assert response.headers["location"].endswith("/admin/login"), page
        refused = sign_in(client, "demo", "demo12345")
        assert refused.status_code == 403
        assert "not an administrator" in refused.text
        assert client.get("/admin/status").status_code == 302
        # A demo user's bearer token is no way in either.
        bearer = client.get("/admin/status", headers=system.auth(system.token()))
        assert bearer.status_code == 302


def test_admin_refuses_forged_cross_site_requests(
    system: LocalSystem, baseline: tuple[Any, ...]
) -> None:
    with admin_client(system) as client:
        assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
        page = "/admin/fuel-type/presentation/1"
        token = form_token(client, page)
        data = {"csrf_token": token, "display_name": "pwned"}
        forged_origins: list[dict[str, str]] = [
            {"Origin": "http://evil.test"},
            {"Origin": "null"},
            {"Origin": f"{system.gateway}.evil.test"},
            {"Origin": "", "Referer": "http://evil.test/page"},
        ]
        for headers in forged_origins:
            response = client.post(page, data=data, headers=headers)
            assert response.status_code == 403, headers
        stale = client.post(page, data={"csrf_token": "forged", "display_name": "pwned"})
        assert stale.status_code == 403
        missing = client.post(page, data={"display_name": "pwned"})
        assert missing.status_code == 403
    assert data_fingerprint(system.database_url) == baseline


def polyglot_png_html() -> bytes:
    """A valid PNG that is also an HTML page with a script (after IEND, browsers sniff it)."""
    return png(32, 32) + b"<html><script>alert(document.cookie)</script></html>"


def polyglot_gif_js() -> bytes:
    """The classic GIF/JavaScript polyglot: a GIF header that is also a JS expression."""
    return b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.cookie);//" + b"\x00" * 16


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
)


def test_hostile_icon_uploads_are_refused_or_defused(system: LocalSystem) -> None:
    def icon_path() -> str | None:
        with psycopg.connect(system.database_url) as conn:
            row = conn.execute("SELECT icon_path FROM store.fuel_types WHERE id = 1").fetchone()
        return None if row is None else row[0]

    with admin_client(system) as client:
        assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
        page = "/admin/fuel-type/presentation/1"

        def upload(name: str, data: bytes, kind: str) -> httpx.Response:
            token = form_token(client, page)
            return client.post(page, data={"csrf_token": token}, files={"icon": (name, data, kind)})

        before = icon_path()
        refused = {
            "decompression bomb": (png_bomb(), "decompression bomb"),
            "svg with a script": (SVG_WITH_SCRIPT, "SVG"),
            "gif/js polyglot": (polyglot_gif_js(), ""),
        }
        for name, (data, message) in refused.items():
            response = upload("icon.png", data, "image/png")
            assert response.status_code == 400, (name, response.status_code)
            assert message in response.text, name
            assert icon_path() == before, name
        oversize = upload("big.png", png(16, 16) + b"\0" * (3 * 1024 * 1024), "image/png")
        assert oversize.status_code == 413
        assert icon_path() == before

        # A PNG with HTML after its end is a PNG: it is re-encoded, so the HTML is gone.
        accepted = upload("poly.png", polyglot_png_html(), "image/png")
        assert accepted.status_code == 200, accepted.text[:300]
        stored = icon_path()
        assert stored
        assert stored != before
        served = client.get(stored)
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/png"
        assert served.headers.get("x-content-type-options") == "nosniff"
        assert b"<script" not in served.content
        assert Image.open(io.BytesIO(served.content)).format == "PNG"


# --- schemathesis against both OpenAPI documents, through the gateway (last: it writes) ---

EXAMPLES = 12
CHECKS = [checks.not_a_server_error, checks.response_schema_conformance]


def run_schema(
    schema: Any, base_url: str, headers: dict[str, str], skip: set[str]
) -> dict[str, Counter[int]]:
    return run_schemathesis(
        schema,
        lambda case: case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS),
        examples=EXAMPLES,
        skip=skip,
    )


def test_schemathesis_on_the_api_through_the_gateway(system: LocalSystem, demo_token: str) -> None:
    schema = schemathesis.openapi.from_url(f"{system.gateway}/api/openapi.json")
    statuses = run_schema(schema, system.gateway, system.auth(demo_token), {"v2_changes_stream"})
    assert len(statuses) >= 6, statuses
    for label, seen in statuses.items():
        assert seen[200] > 0 or seen[404] > 0, (label, seen)


def test_schemathesis_on_auth_through_the_gateway(system: LocalSystem) -> None:
    """Auth's document is served on auth's own port; the calls go through the gateway."""
    admin = system.token("admin", ADMIN_PASSWORD)
    schema = schemathesis.openapi.from_url(f"{system.auth_url}/openapi.json")
    routed = ("/api/v1/token/", "/oauth/", "/.well-known/", "/accounts/")
    paths = {result.ok().path for result in schema.get_all_operations()}  # type: ignore[union-attr]
    skip = {path for path in paths if not path.startswith(routed)}
    statuses = run_schema(schema, system.gateway, system.auth(admin), skip)
    assert len(statuses) >= 6, statuses
    # The demo account was not broken by the fuzzing.
    assert system.token()
