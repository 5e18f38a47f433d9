"""Checks for raw upstream values, shared by the ingestors' record parsers.

Each raises :class:`RecordRejectedError` with a short, stable reason (it becomes a metric
label) and a detail for the log.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from fuelhub_common.events import MAX_STATION_ID
from fuelhub_common.ingestion.records import NonFiniteNumber
from fuelhub_common.ingestion.source import RecordRejectedError

# Control and invisible format characters (C0/C1 controls, zero-width and bidi controls, BOM,
# lone surrogates): never meaningful in a name or an address, and a vector for spoofing.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def record_object(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise RecordRejectedError("record is not an object", detail=type(record).__name__)
    return record


def entity_id(record: dict[str, Any]) -> int:
    value = record.get("id")
    if value is None:
        raise RecordRejectedError("missing id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordRejectedError("id is not an integer", detail=repr(value)[:50])
    if not 1 <= value <= MAX_STATION_ID:
        raise RecordRejectedError("id out of range", detail=str(value)[:50])
    return value


def number(value: Any, what: str, entity: int) -> Decimal:
    """An exact decimal from a JSON number; strings, booleans, NaN and Infinity are refused."""
    if isinstance(value, NonFiniteNumber):
        raise RecordRejectedError(f"{what} is not a finite number", entity, repr(value))
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise RecordRejectedError(f"{what} is not a number", entity, repr(value)[:50])
    result = Decimal(value)
    if not result.is_finite():
        raise RecordRejectedError(f"{what} is not a finite number", entity, str(value))
    return result


def canonical(value: Decimal, places: int) -> Decimal:
    """``value`` rounded to at most ``places`` decimals, without trailing zeros or exponent.

    ``100``, ``100.0`` and ``1E+2`` all become ``100``, so equal prices hash equally.
    """
    try:
        rounded = value.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        return value
    normal = rounded.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def integer(value: Any, what: str, entity: int, *, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, Decimal) and value == value.to_integral_value():
            value = int(value)
        else:
            raise RecordRejectedError(f"{what} is not an integer", entity, repr(value)[:50])
    if not minimum <= value <= maximum:
        raise RecordRejectedError(f"{what} out of range", entity, str(value)[:50])
    return int(value)


def text(value: Any, what: str, entity: int, *, max_length: int) -> str:
    """A string, NFC-normalised, stripped, without control characters; bounded in length."""
    if not isinstance(value, str):
        raise RecordRejectedError(f"{what} is not a string", entity, type(value).__name__)
    if len(value) > max_length:
        raise RecordRejectedError(f"{what} too long", entity, f"{len(value)} characters")
    text: str = value
    if not text.isprintable():  # the common case skips the regex entirely
        text = _INVISIBLE.sub("", text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text.strip()


def string_list(
    value: Any, what: str, entity: int, *, max_items: int, max_length: int
) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordRejectedError(f"{what} is not a list", entity, type(value).__name__)
    if len(value) > max_items:
        raise RecordRejectedError(f"{what} has too many items", entity, str(len(value)))
    return [text(item, what, entity, max_length=max_length) for item in value]
