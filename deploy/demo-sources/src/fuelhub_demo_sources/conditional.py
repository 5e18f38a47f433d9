"""Conditional GET (RFC 9110 §13): ETag and Last-Modified validators. No I/O."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime


def http_date(moment: datetime) -> str:
    """``moment`` as an IMF-fixdate, e.g. ``Fri, 27 Nov 2026 07:00:00 GMT``."""
    return format_datetime(moment, usegmt=True)


def is_not_modified(
    *,
    etag: str,
    last_modified: datetime,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> bool:
    """Whether a GET carrying these request headers should be answered with 304."""
    if if_none_match is not None:
        # When If-None-Match is present, If-Modified-Since must be ignored (RFC 9110 §13.1.3).
        return _etag_matches(etag, if_none_match)
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # An unparsable date is ignored, as the RFC asks.
    if since.tzinfo is None:
        return False
    return last_modified.replace(microsecond=0) <= since


def _etag_matches(etag: str, header: str) -> bool:
    if header.strip() == "*":
        return True
    # Weak comparison: W/"x" matches "x".
    wanted = _opaque(etag)
    return any(_opaque(candidate) == wanted for candidate in header.split(","))


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag
