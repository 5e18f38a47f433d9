"""Where the fuel-name alias map comes from: built-in defaults, a file, and the admin's list."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import orjson

from fuelhub_common.normalize import DEFAULT_FUEL_ALIASES, FuelNameNormalizer

log = logging.getLogger(__name__)


def _mapping(data: object, origin: str) -> dict[str, str]:
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{origin}: expected a JSON object of name -> canonical name")
    return dict(data)


class AliasProvider:
    """Builds the normaliser for each poll; keeps the last good map when a source fails."""

    def __init__(self, *, file: Path | None = None, url: str | None = None) -> None:
        self._file = file
        self._url = url
        self._remote: dict[str, str] = {}
        self._local: dict[str, str] = {}
        if file is not None:
            self._local = _mapping(orjson.loads(file.read_bytes()), str(file))

    async def normalizer(self, client: httpx.AsyncClient) -> FuelNameNormalizer:
        if self._url:
            try:
                response = await client.get(self._url, timeout=5.0)
                response.raise_for_status()
                self._remote = _mapping(orjson.loads(response.content), self._url)
            except (httpx.HTTPError, ValueError) as exc:
                log.warning(
                    "fuel aliases unavailable, using the last known map",
                    extra={"url": self._url, "error": str(exc)},
                )
        return FuelNameNormalizer({**DEFAULT_FUEL_ALIASES, **self._local, **self._remote})
