"""Request and response bodies of the accounts API (and the CLI's views)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fuelhub_common.tokens import SCOPE_ADMIN, SCOPE_STATIONS_READ
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

KNOWN_SCOPES = frozenset({SCOPE_STATIONS_READ, SCOPE_ADMIN})

# Django's username rule, so accounts of the original system can be recreated as they were.
USERNAME_PATTERN = r"^[\w.@+-]{1,150}$"
CLIENT_ID_PATTERN = r"^[A-Za-z0-9._-]{3,100}$"
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN, min_length=1, max_length=150)]
ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
Scope = Annotated[str, StringConstraints(pattern=r"^(stations:read|admin)$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Body):
    username: Username
    password: Password | None = Field(
        default=None, description="Omit to have one generated (returned once)."
    )
    scopes: list[Scope] = Field(default_factory=lambda: [SCOPE_STATIONS_READ], max_length=10)
    enabled: bool = True


class PasswordReset(_Body):
    password: Password | None = Field(
        default=None, description="Omit to have one generated (returned once)."
    )


class ClientCreate(_Body):
    client_id: ClientId | None = Field(default=None, description="Omit to have one generated.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    scopes: list[Scope] = Field(default_factory=lambda: [SCOPE_STATIONS_READ], max_length=10)
    enabled: bool = True


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    scopes: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class UserCreated(UserOut):
    password: str | None = Field(
        default=None, description="The generated password; shown only in this response."
    )


class PasswordSet(BaseModel):
    username: str
    password: str | None = Field(default=None, description="The generated password, once.")


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    scopes: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class ClientWithSecret(ClientOut):
    client_secret: str = Field(description="Shown only in this response; store it now.")
