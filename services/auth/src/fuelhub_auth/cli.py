"""``fuelhub-auth``: run the service and manage accounts and signing keys.

With no subcommand it serves. Account commands write through :mod:`fuelhub_auth.accounts`, the
same code as the accounts API.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn
from fuelhub_common.logs import configure_logging
from fuelhub_common.settings import load_settings
from fuelhub_common.tokens import SCOPE_ADMIN, SCOPE_STATIONS_READ
from sqlalchemy.ext.asyncio import AsyncSession

from fuelhub_auth import accounts, migrate
from fuelhub_auth.container import make_hasher
from fuelhub_auth.db import Database
from fuelhub_auth.keys import (
    KeyConfigError,
    load_key_dir,
    new_signing_key,
    prune_key_dir,
    write_key,
)
from fuelhub_auth.passwords import Hasher
from fuelhub_auth.schemas import CLIENT_ID_PATTERN, KNOWN_SCOPES, USERNAME_PATTERN
from fuelhub_auth.settings import AuthSettings

T = TypeVar("T")

app = typer.Typer(
    help="fuelhub auth service: tokens, accounts, signing keys.",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
)

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo12345"  # noqa: S105 (the documented dev-profile demo account)
DEV_ADMIN_USERNAME = "admin"

ScopeOption = Annotated[
    list[str] | None,
    typer.Option("--scope", "-s", help=f"Repeatable; one of {sorted(KNOWN_SCOPES)}."),
]


def _settings() -> AuthSettings:
    return load_settings(AuthSettings)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _scopes(values: list[str] | None) -> list[str]:
    scopes = values or [SCOPE_STATIONS_READ]
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        _fail(f"unknown scope(s): {', '.join(sorted(unknown))}")
    return scopes


def _with_session(
    settings: AuthSettings, work: Callable[[AsyncSession, Hasher], Awaitable[T]]
) -> T:
    """Run ``work`` in one transaction (migrating first, as the service would)."""
    if settings.auth_migrate_on_start:
        migrate.upgrade(settings.sqlalchemy_url)

    async def run() -> T:
        db = Database(settings.sqlalchemy_url, pool_size=1)
        try:
            async with db.transaction() as session:
                return await work(session, make_hasher(settings))
        finally:
            await db.dispose()

    return asyncio.run(run())


@app.callback()
def default(ctx: typer.Context) -> None:
    """With no command: serve."""
    if ctx.invoked_subcommand is None:
        serve(host=None, port=None)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: HTTP_HOST (127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Default: HTTP_PORT (8001).")] = None,
) -> None:
    """Run the HTTP service (migrates first unless AUTH_MIGRATE_ON_START=false)."""
    from fuelhub_auth.main import create_app

    settings = _settings()
    configure_logging("auth", level=settings.log_level, fmt=settings.log_format)
    try:
        application = create_app(settings)
    except KeyConfigError as exc:
        _fail(str(exc))
    uvicorn.run(
        application,
        host=host or settings.http_host,
        port=port if port is not None else settings.http_port,
        log_config=None,
        # The client address is derived from X-Forwarded-For by auth itself, and only for
        # AUTH_TRUSTED_PROXIES: uvicorn must not rewrite it first.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
    )


@app.command("migrate")
def migrate_command() -> None:
    """Apply auth's database migrations."""
    settings = _settings()
    migrate.upgrade(settings.sqlalchemy_url)
    typer.echo("auth schema up to date")


@app.command("create-user")
def create_user(
    username: str,
    scope: ScopeOption = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="AUTH_NEW_PASSWORD", help="Default: generated and printed once."),
    ] = None,
    disabled: bool = False,
) -> None:
    """Create a user (default scope stations:read)."""
    scopes = _scopes(scope)
    if not re.fullmatch(USERNAME_PATTERN, username):
        _fail("username: 1-150 letters, digits and @.+-_ only")
    secret = password or accounts.generate_secret()
    if len(secret) < 8:
        _fail("password must have at least 8 characters")

    async def work(session: AsyncSession, hasher: Hasher) -> None:
        await accounts.create_user(
            session, hasher, username=username, password=secret, scopes=scopes, enabled=not disabled
        )

    try:
        _with_session(_settings(), work)
    except accounts.AccountExistsError:
        _fail(f"user {username!r} already exists")
    typer.echo(f"created user {username} scopes={' '.join(sorted(scopes))}")
    if password is None:
        typer.echo(f"password (shown once): {secret}")


@app.command("list-users")
def list_users() -> None:
    """List users."""

    async def work(session: AsyncSession, hasher: Hasher) -> list[str]:
        users = await accounts.list_users(session, limit=10_000)
        return [
            f"{u.username}\t{'enabled' if u.enabled else 'disabled'}\t{' '.join(u.scopes)}"
            for u in users
        ]

    for line in _with_session(_settings(), work):
        typer.echo(line)


def _set_user_enabled(username: str, enabled: bool) -> None:
    async def work(session: AsyncSession, hasher: Hasher) -> None:
        await accounts.set_user_enabled(session, username, enabled)

    try:
        _with_session(_settings(), work)
    except accounts.AccountNotFoundError:
        _fail(f"no user {username!r}")
    typer.echo(f"user {username} {'enabled' if enabled else 'disabled'}")


@app.command("disable-user")
def disable_user(username: str) -> None:
    """Disable a user (their refresh tokens are revoked; access tokens run out)."""
    _set_user_enabled(username, False)


@app.command("enable-user")
def enable_user(username: str) -> None:
    """Enable a user again."""
    _set_user_enabled(username, True)


@app.command("create-client")
def create_client(
    client_id: Annotated[str | None, typer.Argument(help="Default: generated.")] = None,
    name: Annotated[str, typer.Option(help="What the client is.")] = "service",
    scope: ScopeOption = None,
) -> None:
    """Create an OAuth client; its secret is printed once."""
    scopes = _scopes(scope)
    if client_id is not None and not re.fullmatch(CLIENT_ID_PATTERN, client_id):
        _fail("client id: 3-100 letters, digits and ._- only")

    async def work(session: AsyncSession, hasher: Hasher) -> tuple[str, str]:
        client, secret = await accounts.create_client(
            session, hasher, client_id=client_id, name=name, scopes=scopes
        )
        return client.client_id, secret

    try:
        made_id, secret = _with_session(_settings(), work)
    except accounts.AccountExistsError:
        _fail(f"client {client_id!r} already exists")
    typer.echo(f"created client {made_id} scopes={' '.join(sorted(scopes))}")
    typer.echo(f"client_secret (shown once): {secret}")


@app.command("list-clients")
def list_clients() -> None:
    """List OAuth clients."""

    async def work(session: AsyncSession, hasher: Hasher) -> list[str]:
        clients = await accounts.list_clients(session, limit=10_000)
        return [
            f"{c.client_id}\t{'enabled' if c.enabled else 'disabled'}\t{' '.join(c.scopes)}"
            f"\t{c.name}"
            for c in clients
        ]

    for line in _with_session(_settings(), work):
        typer.echo(line)


@app.command("disable-client")
def disable_client(client_id: str) -> None:
    """Disable an OAuth client (no new tokens; issued ones run out)."""

    async def work(session: AsyncSession, hasher: Hasher) -> None:
        await accounts.set_client_enabled(session, client_id, False)

    try:
        _with_session(_settings(), work)
    except accounts.AccountNotFoundError:
        _fail(f"no client {client_id!r}")
    typer.echo(f"client {client_id} disabled")


@app.command("rotate-key")
def rotate_key(
    prune: Annotated[
        bool, typer.Option(help="Also delete keys whose tokens have all expired.")
    ] = True,
) -> None:
    """Add a new signing key to AUTH_KEYS_DIR; running services sign with it within seconds,
    and keep publishing the old one until every token it signed has expired."""
    settings = _settings()
    if settings.auth_signing_keys is not None:
        _fail("AUTH_SIGNING_KEYS is set: rotate by adding a key to that JWKS instead")
    key = new_signing_key()
    path = write_key(settings.auth_keys_dir, key)
    typer.echo(f"new signing key {key.kid} in {path}")
    if prune:
        for kid in prune_key_dir(settings.auth_keys_dir, settings.key_retention_seconds):
            typer.echo(f"removed expired key {kid}")


@app.command("dev-bootstrap")
def dev_bootstrap() -> None:
    """Make a signing key if none exists; with AUTH_PROFILE=dev only, also the demo user
    (demo / demo12345, stations:read) and an admin user (password printed once)."""
    settings = _settings()
    if settings.auth_signing_keys is None and not load_key_dir(settings.auth_keys_dir):
        key = new_signing_key()
        write_key(settings.auth_keys_dir, key)
        typer.echo(f"generated signing key {key.kid} in {settings.auth_keys_dir}")
    if settings.auth_profile != "dev":
        typer.echo("AUTH_PROFILE is not dev: no demo accounts created")
        return
    admin_env = settings.auth_dev_admin_password
    admin_password = admin_env.get_secret_value() if admin_env else accounts.generate_secret()

    async def work(session: AsyncSession, hasher: Hasher) -> list[str]:
        lines = []
        if await accounts.find_user(session, DEMO_USERNAME) is None:
            await accounts.create_user(
                session,
                hasher,
                username=DEMO_USERNAME,
                password=DEMO_PASSWORD,
                scopes=[SCOPE_STATIONS_READ],
            )
            lines.append(f"created demo user: {DEMO_USERNAME} / {DEMO_PASSWORD}")
        else:
            lines.append(f"demo user exists: {DEMO_USERNAME} / {DEMO_PASSWORD} (unless changed)")
        if await accounts.find_user(session, DEV_ADMIN_USERNAME) is None:
            await accounts.create_user(
                session,
                hasher,
                username=DEV_ADMIN_USERNAME,
                password=admin_password,
                scopes=[SCOPE_ADMIN, SCOPE_STATIONS_READ],
            )
            shown = "from AUTH_DEV_ADMIN_PASSWORD" if admin_env else admin_password
            lines.append(f"created admin user: {DEV_ADMIN_USERNAME} / {shown} (shown once)")
        else:
            lines.append(f"admin user exists: {DEV_ADMIN_USERNAME} (password unchanged)")
        return lines

    for line in _with_session(settings, work):
        typer.echo(line)


def main() -> None:
    """Entry point of the ``fuelhub-auth`` script."""
    app(prog_name="fuelhub-auth")


if __name__ == "__main__":
    main()
