"""Reading an upstream body as a stream of raw records, with exact decimals.

A body that is not a JSON array fails the poll. Records are yielded one at a time (ijson), so a
100,000-station body never becomes 100,000 Python dicts at once. Numbers are ``Decimal``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import ijson


class BadBodyError(Exception):
    """The body as a whole is unusable (not JSON, not an array): the poll fails cleanly."""


class NonFiniteTokensError(BadBodyError):
    """The body has bare NaN/Infinity tokens: re-read it with :func:`iter_records_lenient`."""


class NonFiniteNumber:
    """Stands in for a bare ``NaN``/``Infinity`` token, so only its record is rejected."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


def _first_byte(body: IO[bytes]) -> bytes:
    while True:
        chunk = body.read(1)
        if not chunk or not chunk.isspace():
            return chunk


def iter_records(body: IO[bytes], *, lenient_max_bytes: int = 32 * 1024 * 1024) -> Iterator[Any]:
    """Yield each element of the top-level JSON array in ``body``.

    JSON has no NaN or Infinity, but some producers write them. Rather than fail the whole poll
    for one such record, a body up to ``lenient_max_bytes`` raises :class:`NonFiniteTokensError`
    so the caller can start over with :func:`iter_records_lenient`, whose records carry
    :class:`NonFiniteNumber` for those tokens (and are then rejected one by one).
    """
    _check_array(body)
    try:
        yield from ijson.items(body, "item", use_float=False)
    except ijson.JSONError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "invalid char" in str(exc) and _size(body) <= lenient_max_bytes:
            raise NonFiniteTokensError(message) from None
        raise BadBodyError(f"body is not valid JSON: {message}") from None


def iter_records_lenient(body: IO[bytes]) -> Iterator[Any]:
    """Like :func:`iter_records`, accepting bare NaN/Infinity; loads the body whole."""
    _check_array(body)
    try:
        data = json.load(body, parse_float=Decimal, parse_constant=NonFiniteNumber)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBodyError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise BadBodyError("body is not a JSON array")
    yield from data


def _check_array(body: IO[bytes]) -> None:
    body.seek(0)
    first = _first_byte(body)
    if first == b"":
        raise BadBodyError("empty body")
    if first != b"[":
        raise BadBodyError("body is not a JSON array")
    body.seek(0)


def _size(body: IO[bytes]) -> int:
    position = body.tell()
    body.seek(0, 2)
    size = body.tell()
    body.seek(position)
    return size
