"""The accounts API (``admin`` scope): what the admin UI and operators use to manage users
and OAuth clients. No other service writes auth's tables."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from fuelhub_auth import accounts
from fuelhub_auth.deps import AdminDep, HasherDep, SessionDep
from fuelhub_auth.schemas import (
    CLIENT_ID_PATTERN,
    USERNAME_PATTERN,
    ClientCreate,
    ClientOut,
    ClientWithSecret,
    PasswordReset,
    PasswordSet,
    UserCreate,
    UserCreated,
    UserOut,
)

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/accounts",
    tags=["accounts (admin)"],
    responses={
        400: {"description": "The body is not parsable JSON."},
        401: {"description": "No valid access token."},
        403: {"description": "The token lacks the `admin` scope."},
    },
)

Limit = Annotated[int, Query(ge=1, le=500)]
UsernamePath = Annotated[str, Path(pattern=USERNAME_PATTERN)]
ClientIdPath = Annotated[str, Path(pattern=CLIENT_ID_PATTERN)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _not_found(kind: str) -> HTTPException:
    return HTTPException(404, f"No such {kind}.")


def _audit(admin: AdminDep, action: str, target: str) -> None:
    log.info("account change", extra={"actor": admin.subject, "action": action, "target": target})


@router.get("/users", response_model=list[UserOut])
async def list_users(
    _: AdminDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> list[UserOut]:
    users = await accounts.list_users(session, limit=limit, offset=offset)
    return [UserOut.model_validate(u) for u in users]


@router.get(
    "/users/{username}",
    responses={404: {"description": "No such account."}},
    response_model=UserOut,
)
async def get_user(_: AdminDep, session: SessionDep, username: UsernamePath) -> UserOut:
    user = await accounts.find_user(session, username)
    if user is None:
        raise _not_found("user")
    return UserOut.model_validate(user)


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreated,
    responses={409: {"description": "Username taken."}},
)
async def create_user(
    admin: AdminDep, session: SessionDep, hasher: HasherDep, body: UserCreate
) -> UserCreated:
    password = body.password or accounts.generate_secret()
    try:
        user = await accounts.create_user(
            session,
            hasher,
            username=body.username,
            password=password,
            scopes=body.scopes,
            enabled=body.enabled,
        )
    except accounts.AccountExistsError:
        raise HTTPException(409, "A user with that username already exists.") from None
    _audit(admin, "create_user", user.username)
    created = UserCreated.model_validate(user, from_attributes=True)
    created.password = None if body.password else password
    return created


async def _set_user_enabled(
    admin: AdminDep, session: SessionDep, username: UsernamePath, enabled: bool
) -> UserOut:
    try:
        user = await accounts.set_user_enabled(session, username, enabled)
    except accounts.AccountNotFoundError:
        raise _not_found("user") from None
    _audit(admin, "enable_user" if enabled else "disable_user", username)
    return UserOut.model_validate(user)


@router.post(
    "/users/{username}/disable",
    responses={404: {"description": "No such account."}},
    response_model=UserOut,
    description="The user can no longer log in or refresh; their refresh tokens are revoked. "
    "Access tokens already issued stay valid until they expire (AUTH_ACCESS_TTL_SECONDS).",
)
async def disable_user(admin: AdminDep, session: SessionDep, username: UsernamePath) -> UserOut:
    return await _set_user_enabled(admin, session, username, False)


@router.post(
    "/users/{username}/enable",
    responses={404: {"description": "No such account."}},
    response_model=UserOut,
)
async def enable_user(admin: AdminDep, session: SessionDep, username: UsernamePath) -> UserOut:
    return await _set_user_enabled(admin, session, username, True)


@router.post(
    "/users/{username}/password",
    responses={404: {"description": "No such account."}},
    response_model=PasswordSet,
    description="Set a new password (or have one generated, returned once); revokes the "
    "user's refresh tokens.",
)
async def reset_password(
    admin: AdminDep,
    session: SessionDep,
    hasher: HasherDep,
    username: UsernamePath,
    body: PasswordReset,
) -> PasswordSet:
    password = body.password or accounts.generate_secret()
    try:
        await accounts.set_password(session, hasher, username, password)
    except accounts.AccountNotFoundError:
        raise _not_found("user") from None
    _audit(admin, "reset_password", username)
    return PasswordSet(username=username, password=None if body.password else password)


@router.get("/clients", response_model=list[ClientOut])
async def list_clients(
    _: AdminDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> list[ClientOut]:
    clients = await accounts.list_clients(session, limit=limit, offset=offset)
    return [ClientOut.model_validate(c) for c in clients]


@router.get(
    "/clients/{client_id}",
    responses={404: {"description": "No such account."}},
    response_model=ClientOut,
)
async def get_client(_: AdminDep, session: SessionDep, client_id: ClientIdPath) -> ClientOut:
    client = await accounts.find_client(session, client_id)
    if client is None:
        raise _not_found("client")
    return ClientOut.model_validate(client)


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientWithSecret,
    responses={409: {"description": "client_id taken."}},
)
async def create_client(
    admin: AdminDep, session: SessionDep, hasher: HasherDep, body: ClientCreate
) -> ClientWithSecret:
    try:
        client, secret = await accounts.create_client(
            session,
            hasher,
            client_id=body.client_id,
            name=body.name,
            scopes=body.scopes,
            enabled=body.enabled,
        )
    except accounts.AccountExistsError:
        raise HTTPException(409, "A client with that client_id already exists.") from None
    _audit(admin, "create_client", client.client_id)
    return ClientWithSecret(**ClientOut.model_validate(client).model_dump(), client_secret=secret)


async def _set_client_enabled(
    admin: AdminDep, session: SessionDep, client_id: ClientIdPath, enabled: bool
) -> ClientOut:
    try:
        client = await accounts.set_client_enabled(session, client_id, enabled)
    except accounts.AccountNotFoundError:
        raise _not_found("client") from None
    _audit(admin, "enable_client" if enabled else "disable_client", client_id)
    return ClientOut.model_validate(client)


@router.post(
    "/clients/{client_id}/disable",
    responses={404: {"description": "No such account."}},
    response_model=ClientOut,
)
async def disable_client(
    admin: AdminDep, session: SessionDep, client_id: ClientIdPath
) -> ClientOut:
    return await _set_client_enabled(admin, session, client_id, False)


@router.post(
    "/clients/{client_id}/enable",
    responses={404: {"description": "No such account."}},
    response_model=ClientOut,
)
async def enable_client(admin: AdminDep, session: SessionDep, client_id: ClientIdPath) -> ClientOut:
    return await _set_client_enabled(admin, session, client_id, True)


@router.post(
    "/clients/{client_id}/secret",
    responses={404: {"description": "No such account."}},
    response_model=ClientWithSecret,
    description="Replace the client's secret; the new one is returned once, the old one stops "
    "working at once.",
)
async def rotate_client_secret(
    admin: AdminDep, session: SessionDep, hasher: HasherDep, client_id: ClientIdPath
) -> ClientWithSecret:
    try:
        client, secret = await accounts.rotate_client_secret(session, hasher, client_id)
    except accounts.AccountNotFoundError:
        raise _not_found("client") from None
    _audit(admin, "rotate_client_secret", client_id)
    return ClientWithSecret(**ClientOut.model_validate(client).model_dump(), client_secret=secret)
