"""Users and OAuth clients: the only code that writes auth's account tables.

Functions take the session of a transaction the caller owns (the route or the CLI command).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fuelhub_auth.models import Client, RefreshFamily, User
from fuelhub_auth.passwords import Hasher


class AccountExistsError(Exception):
    pass


class AccountNotFoundError(Exception):
    pass


def generate_secret() -> str:
    """A random secret for a generated password or client secret (256 bits)."""
    return secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(UTC)


async def find_user(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(User.username == username))
    return result.scalar_one_or_none()


async def get_user(session: AsyncSession, username: str) -> User:
    user = await find_user(session, username)
    if user is None:
        raise AccountNotFoundError(username)
    return user


async def list_users(session: AsyncSession, *, limit: int = 100, offset: int = 0) -> Sequence[User]:
    result = await session.execute(select(User).order_by(User.username).limit(limit).offset(offset))
    return result.scalars().all()


async def create_user(
    session: AsyncSession,
    hasher: Hasher,
    *,
    username: str,
    password: str,
    scopes: Sequence[str],
    enabled: bool = True,
) -> User:
    now = _now()
    user = User(
        username=username,
        password_hash=await hasher.hash(password),
        scopes=sorted(set(scopes)),
        enabled=enabled,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AccountExistsError(username) from None
    return user


async def revoke_user_families(session: AsyncSession, user_id: int, reason: str) -> None:
    """End every refresh-token family of a user (disable, password reset)."""
    await session.execute(
        update(RefreshFamily)
        .where(RefreshFamily.user_id == user_id, RefreshFamily.revoked_at.is_(None))
        .values(revoked_at=_now(), revoked_reason=reason)
    )


async def set_user_enabled(session: AsyncSession, username: str, enabled: bool) -> User:
    user = await get_user(session, username)
    user.enabled = enabled
    user.updated_at = _now()
    if not enabled:
        await revoke_user_families(session, user.id, "user disabled")
    return user


async def set_password(session: AsyncSession, hasher: Hasher, username: str, password: str) -> User:
    user = await get_user(session, username)
    user.password_hash = await hasher.hash(password)
    user.updated_at = _now()
    await revoke_user_families(session, user.id, "password reset")
    return user


async def find_client(session: AsyncSession, client_id: str) -> Client | None:
    result = await session.execute(select(Client).where(Client.client_id == client_id))
    return result.scalar_one_or_none()


async def get_client(session: AsyncSession, client_id: str) -> Client:
    client = await find_client(session, client_id)
    if client is None:
        raise AccountNotFoundError(client_id)
    return client


async def list_clients(
    session: AsyncSession, *, limit: int = 100, offset: int = 0
) -> Sequence[Client]:
    result = await session.execute(
        select(Client).order_by(Client.client_id).limit(limit).offset(offset)
    )
    return result.scalars().all()


async def create_client(
    session: AsyncSession,
    hasher: Hasher,
    *,
    client_id: str | None,
    name: str,
    scopes: Sequence[str],
    enabled: bool = True,
) -> tuple[Client, str]:
    """A new client and its secret (the secret is only ever returned here)."""
    secret = generate_secret()
    now = _now()
    client = Client(
        client_id=client_id or f"svc-{secrets.token_hex(8)}",
        name=name,
        secret_hash=await hasher.hash(secret),
        scopes=sorted(set(scopes)),
        enabled=enabled,
        created_at=now,
        updated_at=now,
    )
    session.add(client)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AccountExistsError(client.client_id) from None
    return client, secret


async def set_client_enabled(session: AsyncSession, client_id: str, enabled: bool) -> Client:
    client = await get_client(session, client_id)
    client.enabled = enabled
    client.updated_at = _now()
    return client


async def rotate_client_secret(
    session: AsyncSession, hasher: Hasher, client_id: str
) -> tuple[Client, str]:
    client = await get_client(session, client_id)
    secret = generate_secret()
    client.secret_hash = await hasher.hash(secret)
    client.updated_at = _now()
    return client, secret
