"""Auth's accounts API as the admin calls it, with the signed-in admin's access token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx

SECRET_FIELDS: Final = ("password", "client_secret")


class AccountsError(Exception):
    """auth refused or could not be reached; ``str(exc)`` is shown on the page."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One change through the accounts API: ``path`` under ``/accounts``, optional JSON body."""

    action: str  # the audit log's action, e.g. "account.user.disable"
    target_type: str
    target_id: str
    path: str
    body: dict[str, Any] | None = None


def _segment(value: str) -> str:
    return quote(value, safe="")


def operation(op: str, form: dict[str, Any]) -> Operation:
    """Map a submitted accounts form to the API call; ``ValueError`` for an unknown one."""
    user = str(form.get("username") or "").strip()
    client = str(form.get("client_id") or "").strip()
    scopes = [s for s in form.get("scopes", []) if s in ("stations:read", "admin")]
    password = str(form.get("password") or "") or None
    simple = {
        "disable_user": ("user", user, f"/users/{_segment(user)}/disable"),
        "enable_user": ("user", user, f"/users/{_segment(user)}/enable"),
        "disable_client": ("client", client, f"/clients/{_segment(client)}/disable"),
        "enable_client": ("client", client, f"/clients/{_segment(client)}/enable"),
        "rotate_secret": ("client", client, f"/clients/{_segment(client)}/secret"),
    }
    if op in simple:
        kind, target, path = simple[op]
        if not target:
            raise ValueError(f"Enter a {kind} name.")
        return Operation(f"account.{op}", kind, target, path)
    if op == "create_user":
        body: dict[str, Any] = {"username": user, "scopes": scopes or ["stations:read"]}
        if password:
            body["password"] = password
        return Operation("account.create_user", "user", user, "/users", body)
    if op == "reset_password":
        if not user:
            raise ValueError("Enter a user name.")
        reset = {"password": password} if password else {}
        return Operation(
            "account.reset_password", "user", user, f"/users/{_segment(user)}/password", reset
        )
    if op == "create_client":
        name = str(form.get("name") or "").strip()
        body = {"name": name, "scopes": scopes or ["stations:read"]}
        if client:
            body["client_id"] = client
        return Operation("account.create_client", "client", client or name, "/clients", body)
    raise ValueError("Unknown operation.")


def _problem(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list):  # FastAPI validation errors
        parts = [
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
            for d in detail
            if isinstance(d, dict)
        ]
        return "; ".join(parts) or "invalid input"
    if response.status_code == 401:
        return "your session with auth has expired; sign in again"
    if response.status_code == 403:
        return "your account lacks the admin role"
    return str(detail) if detail else f"auth answered {response.status_code}"


class AccountsClient:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self._http = http
        self._headers = {"Authorization": f"Bearer {token}"}

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = await self._http.request(
                method, "/accounts" + path, json=body, headers=self._headers
            )
        except httpx.HTTPError:
            raise AccountsError("The auth service is unavailable; try again shortly.") from None
        if response.status_code >= 400:
            raise AccountsError(f"Refused by auth: {_problem(response)}.")
        return response.json()

    async def users(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/users?limit=500")
        return result

    async def clients(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/clients?limit=500")
        return result

    async def run(self, op: Operation) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", op.path, op.body)
        return result


def without_secrets(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the audit log may keep of an answer (never a password or a client secret)."""
    if data is None:
        return None
    return {k: ("***" if k in SECRET_FIELDS and v else v) for k, v in data.items()}
