"""Same-origin rule of the CSRF guard, and the accounts form mapping."""

from __future__ import annotations

import pytest
from fuelhub_store.admin.accounts import operation, without_secrets
from fuelhub_store.admin.security import same_origin
from starlette.datastructures import Headers


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"host": "127.0.0.1:8003", "origin": "http://127.0.0.1:8003"}, True),
        ({"host": "127.0.0.1:8003", "referer": "http://127.0.0.1:8003/admin/x"}, True),
        # behind the gateway: Host kept, X-Forwarded-Host set
        (
            {
                "host": "127.0.0.1:8003",
                "x-forwarded-host": "fuel.example",
                "origin": "https://fuel.example",
            },
            True,
        ),
        ({"host": "127.0.0.1:8003"}, False),
        ({"host": "127.0.0.1:8003", "origin": "null"}, False),
        ({"host": "127.0.0.1:8003", "origin": "http://evil.test"}, False),
        ({"host": "127.0.0.1:8003", "origin": "http://127.0.0.1:8003.evil.test"}, False),
        ({"host": "127.0.0.1:8003", "referer": "javascript:alert(1)"}, False),
    ],
)
def test_same_origin(headers: dict[str, str], ok: bool) -> None:
    assert same_origin(Headers(headers)) is ok


def test_account_operations_map_to_the_accounts_api() -> None:
    op = operation("disable_user", {"username": "a b/c"})
    assert (op.path, op.body, op.action) == (
        "/users/a%20b%2Fc/disable",
        None,
        "account.disable_user",
    )
    op = operation("create_user", {"username": "x", "scopes": ["admin", "root"], "password": ""})
    assert op.body == {"username": "x", "scopes": ["admin"]}
    op = operation("reset_password", {"username": "x", "password": "new-password"})
    assert (op.path, op.body) == ("/users/x/password", {"password": "new-password"})
    op = operation("create_client", {"name": "Partner", "client_id": "", "scopes": []})
    assert (op.path, op.body) == ("/clients", {"name": "Partner", "scopes": ["stations:read"]})
    assert operation("rotate_secret", {"client_id": "p1"}).path == "/clients/p1/secret"


@pytest.mark.parametrize(("op", "form"), [("drop_tables", {}), ("disable_user", {"username": " "})])
def test_bad_account_operations_are_refused(op: str, form: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"Unknown operation|Enter a user name"):
        operation(op, form)


def test_secrets_never_reach_the_audit_log() -> None:
    assert without_secrets({"username": "x", "password": "p"}) == {
        "username": "x",
        "password": "***",
    }
    assert without_secrets({"client_id": "c", "client_secret": "s"})["client_secret"] == "***"
    assert without_secrets({"username": "x", "password": None}) == {
        "username": "x",
        "password": None,
    }
