"""The error responses every data endpoint documents."""

from __future__ import annotations

from typing import Any

from fuelhub_api.schemas import Error

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A query parameter is invalid; `detail` says which."},
    401: {
        "model": Error,
        "description": "No valid bearer token (`WWW-Authenticate: Bearer`).",
    },
    403: {"model": Error, "description": "The token lacks the `stations:read` scope."},
    503: {
        "model": Error,
        "description": "The database is unreachable for a moment (see `Retry-After`).",
    },
}
