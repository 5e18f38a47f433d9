"""FastAPI dependencies (``Annotated`` aliases) over the app's :class:`Container`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fuelhub_common.tokens import SCOPE_ADMIN, AccessClaims, InvalidTokenError
from sqlalchemy.ext.asyncio import AsyncSession

from fuelhub_auth.container import Container
from fuelhub_auth.netaddr import client_address
from fuelhub_auth.passwords import Hasher
from fuelhub_auth.service import TokenService


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_tokens(container: ContainerDep) -> TokenService:
    return container.tokens


def get_hasher(container: ContainerDep) -> Hasher:
    return container.hasher


TokensDep = Annotated[TokenService, Depends(get_tokens)]
HasherDep = Annotated[Hasher, Depends(get_hasher)]


def get_client_address(request: Request, container: ContainerDep) -> str:
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
    peer = request.client.host if request.client else None
    return client_address(peer, forwarded, container.settings.trusted_proxies)


ClientAddressDep = Annotated[str, Depends(get_client_address)]

_bearer = HTTPBearer(auto_error=False, description="An access token with the `admin` scope.")


def require_admin(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    """The caller's claims, if they carry a valid access token with the ``admin`` scope."""
    challenge = {"WWW-Authenticate": 'Bearer realm="fuelhub"'}
    if credentials is None:
        raise HTTPException(401, "Authentication credentials were not provided.", challenge)
    try:
        return container.tokens.verify_access(credentials.credentials, SCOPE_ADMIN)
    except InvalidTokenError as exc:
        if exc.reason == "insufficient_scope":
            raise HTTPException(403, "This action needs the admin scope.") from None
        container.metrics.failures.labels(reason=f"access_{exc.reason}").inc()
        raise HTTPException(401, "Token is invalid or expired", challenge) from None


AdminDep = Annotated[AccessClaims, Depends(require_admin)]


async def get_session(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that commits before the response is sent."""
    async with container.db.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
