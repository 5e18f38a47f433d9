"""Errors the HTTP layer maps to statuses (400, 404, 410, 503)."""

from __future__ import annotations


class ParamError(ValueError):
    """A query parameter the API cannot honour; the message names it and says why (400)."""


class NotFoundError(LookupError):
    """The named resource does not exist (404)."""


class CursorGoneError(ValueError):
    """A sync cursor the feed cannot serve any more (410): the client must resync."""


class DatabaseUnavailableError(RuntimeError):
    """The read model cannot be reached right now (503 with Retry-After)."""
