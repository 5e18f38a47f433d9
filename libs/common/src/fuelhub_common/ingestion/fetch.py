"""Fetching an upstream body: timeouts, retries with backoff and jitter, conditional GET, a cap.

The body is streamed to a spooled temporary file, never held whole in memory past a few MiB, and
refused as soon as it exceeds the configured cap.
"""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import httpx

log = logging.getLogger(__name__)

_SPOOL_IN_MEMORY = 8 * 1024 * 1024


class FetchError(Exception):
    """The upstream could not be read this poll (after retries); retried next poll."""


class NotRetryableError(FetchError):
    """A failure that retrying within this poll cannot fix (a 4xx, a body over the cap)."""


class BodyTooLargeError(NotRetryableError):
    pass


@dataclass(frozen=True, slots=True)
class Validators:
    """What the upstream said about the body's version, for the next conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(slots=True)
class Fetched:
    """A fetched body (``body`` is None when the upstream answered 304 Not Modified)."""

    body: IO[bytes] | None
    size: int
    validators: Validators
    status: int

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base·2^attempt)]."""
        return float(rng() * min(self.max_delay, self.base_delay * (2**attempt)))


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    validators: Validators,
    max_bytes: int,
    retry: RetryPolicy,
    stop: asyncio.Event | None = None,
) -> Fetched:
    """GET ``url`` with a conditional request; retry transient failures; cap the body size."""
    headers = {"Accept": "application/json"}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    last_error = "no attempt made"
    for attempt in range(retry.attempts):
        if attempt:
            delay = retry.delay(attempt - 1)
            log.info(
                "retrying upstream", extra={"url": url, "attempt": attempt + 1, "delay": delay}
            )
            if stop is not None:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                    raise FetchError("stopping")
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(delay)
        try:
            return await _fetch_once(client, url, headers=headers, max_bytes=max_bytes)
        except NotRetryableError:
            raise
        except FetchError as exc:
            last_error = str(exc)
        except httpx.HTTPError as exc:
            last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    raise FetchError(f"upstream unavailable after {retry.attempts} attempts: {last_error}")


async def _fetch_once(
    client: httpx.AsyncClient, url: str, *, headers: dict[str, str], max_bytes: int
) -> Fetched:
    async with client.stream("GET", url, headers=headers) as response:
        new_validators = Validators(
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        if response.status_code == 304:
            return Fetched(body=None, size=0, validators=new_validators, status=304)
        if response.status_code != 200:
            message = f"upstream answered HTTP {response.status_code}"
            if _retryable(response.status_code):
                raise FetchError(message)
            raise NotRetryableError(message)
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise BodyTooLargeError(f"body of {declared} bytes exceeds the cap of {max_bytes}")
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        size = 0
        try:
            # Decoded bytes: the cap bounds what we store, whatever the transfer encoding.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise BodyTooLargeError(f"body exceeds the cap of {max_bytes} bytes")
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return Fetched(body=spool, size=size, validators=new_validators, status=200)
