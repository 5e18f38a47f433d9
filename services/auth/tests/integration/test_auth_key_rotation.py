"""Signing keys: rotation without a restart, old tokens still verifying, prod refusing to
start without a key, keys from the environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fuelhub_auth.keys import KeyConfigError, key_document, new_signing_key, write_key
from fuelhub_auth.main import create_app
from fuelhub_auth.settings import AuthSettings
from fuelhub_auth.testing import AuthHarness
from fuelhub_common.tokens import read_header

pytestmark = pytest.mark.integration


async def test_rotation_new_kid_signs_old_tokens_still_verify(auth: AuthHarness) -> None:
    await auth.add_user("demo", "demo12345")
    verifier = auth.verifier()
    old = (await auth.login("demo", "demo12345")).json()
    old_kid = read_header(old["access"])["kid"]
    await verifier.verify_access(old["access"])

    new_key = new_signing_key(now=lambda: 4_000_000_000.0)  # certainly the newest
    write_key(auth.settings.auth_keys_dir, new_key)
    auth.container.keys._checked_at = 0.0  # don't wait the reload interval in a test

    new = (await auth.login("demo", "demo12345")).json()
    assert read_header(new["access"])["kid"] == new_key.kid
    assert read_header(new["refresh"])["kid"] == new_key.kid
    kids = {k["kid"] for k in (await auth.client.get("/.well-known/jwks.json")).json()["keys"]}
    assert kids == {old_kid, new_key.kid}
    verifier._attempted_at = None
    assert (await verifier.verify_access(new["access"])).subject == "demo"
    assert (await verifier.verify_access(old["access"])).subject == "demo"
    # A refresh token signed by the old key still refreshes.
    response = await auth.client.post("/api/v1/token/refresh/", json={"refresh": old["refresh"]})
    assert response.status_code == 200


async def test_prod_profile_refuses_to_start_without_keys(
    make_auth_settings: Callable[..., AuthSettings],
) -> None:
    settings = make_auth_settings(auth_profile="prod")
    app = create_app(settings)
    with pytest.raises(KeyConfigError, match="prod profile never generates"):
        async with LifespanManager(app):
            pass
    assert not settings.auth_keys_dir.exists()


async def test_keys_from_the_environment(make_auth_settings: Callable[..., AuthSettings]) -> None:
    older, newer = new_signing_key(now=lambda: 1000.0), new_signing_key(now=lambda: 2000.0)
    jwks = json.dumps({"keys": [key_document(older), key_document(newer)]})
    settings = make_auth_settings(auth_profile="prod", auth_signing_keys=jwks)
    app = create_app(settings)
    async with LifespanManager(app):
        ring = app.state.container.keys.ring()
        assert ring.signing_key.kid == newer.kid
    assert not settings.auth_keys_dir.exists(), "env keys: nothing written to disk"


@pytest.mark.parametrize(
    "value",
    ["not json", '{"keys": "x"}', '{"keys": [{"kty": "OKP"}]}', '{"keys": [{"iat": 1}]}'],
)
async def test_bad_env_keys_refuse_to_start(
    make_auth_settings: Callable[..., AuthSettings], value: Any
) -> None:
    app = create_app(make_auth_settings(auth_signing_keys=value))
    with pytest.raises(KeyConfigError):
        async with LifespanManager(app):
            pass
