"""Assembling response bytes from pre-rendered documents, without parsing them.

The store renders each station as JSON text (exact decimal prices, built in SQL); a page is the
envelope (orjson) around those texts joined by commas. Icons are root-relative in the documents
and become absolute here by one byte replacement (documented in docs/read-model.md): inside a
JSON string a quote is always escaped, so ``"icon":"/`` can only be the start of an icon value.
"""

from __future__ import annotations

from typing import Any

import orjson

_ICON = b'"icon":"/'


def absolutize_icons(body: bytes, base: str) -> bytes:
    """Turn root-relative icon paths into absolute URLs under ``base`` (validated, no quotes)."""
    if _ICON not in body:
        return body
    return body.replace(_ICON, b'"icon":"' + base.encode("ascii") + b"/")


def envelope(fields: dict[str, Any], results: bytes, base: str) -> bytes:
    """``{...fields, "results": [results]}`` where ``results`` is comma-joined JSON texts."""
    head = orjson.dumps(fields)
    head = head[:-1] + b',"results":[' if len(head) > 2 else b'{"results":['
    return absolutize_icons(head + results + b"]}", base)


def tombstone(station_id: int) -> bytes:
    return b'{"id":%d,"deleted":true}' % station_id
