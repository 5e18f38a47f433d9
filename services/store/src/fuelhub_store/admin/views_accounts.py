"""Accounts: users and clients, managed through auth's accounts API (never its tables)."""

from __future__ import annotations

from typing import Any

from sqladmin import BaseView, expose
from starlette.requests import Request
from starlette.responses import Response

from fuelhub_store.admin import audit
from fuelhub_store.admin.accounts import (
    AccountsClient,
    AccountsError,
    operation,
    without_secrets,
)
from fuelhub_store.admin.context import admin_context
from fuelhub_store.admin.login import session_token, session_user
from fuelhub_store.admin.security import csrf_ok, csrf_token


class AccountsView(BaseView):
    name = "Accounts"
    icon = "fa-solid fa-users"
    category = "Administration"

    @expose("/accounts/change", methods=["POST"], identity="accounts-change")
    async def change(self, request: Request) -> Response:
        """Run one accounts operation, audit it, and show any one-time secret."""
        form = await request.form(max_fields=20)
        if not csrf_ok(request, form):
            return await self._page(request, error="The form expired; reload and retry.", code=403)
        values: dict[str, Any] = {k: form.get(k) for k in ("username", "client_id", "name")}
        values["password"] = form.get("password")
        values["scopes"] = form.getlist("scopes")
        try:
            op = operation(str(form.get("op") or ""), values)
        except ValueError as exc:
            return await self._page(request, error=str(exc), code=400)
        ctx = admin_context(request)
        client = AccountsClient(ctx.auth_http, session_token(request))
        try:
            result = await client.run(op)
        except AccountsError as exc:
            return await self._page(request, error=str(exc), code=400)
        async with ctx.pool.connection() as conn, conn.transaction():
            await audit.record(
                conn,
                actor=session_user(request),
                action=op.action,
                target_type=op.target_type,
                target_id=str(result.get("username") or result.get("client_id") or op.target_id),
                before=None,
                after=without_secrets(result),
            )
        secret = result.get("password") or result.get("client_secret")
        return await self._page(request, message="Done.", secret=secret)

    @expose("/accounts", methods=["GET"], identity="accounts")
    async def accounts(self, request: Request) -> Response:
        return await self._page(request)

    async def _page(
        self,
        request: Request,
        *,
        error: str | None = None,
        message: str | None = None,
        secret: str | None = None,
        code: int = 200,
    ) -> Response:
        client = AccountsClient(admin_context(request).auth_http, session_token(request))
        users: list[dict[str, Any]] = []
        clients: list[dict[str, Any]] = []
        try:
            users, clients = await client.users(), await client.clients()
        except AccountsError as exc:
            error = error or str(exc)
        response: Response = await self.templates.TemplateResponse(
            request,
            "fuelhub/accounts.html",
            {
                "title": "Accounts",
                "users": users,
                "clients": clients,
                "error": error,
                "message": message,
                "secret": secret,
                "csrf_token": csrf_token(request),
            },
            status_code=code,
        )
        return response
