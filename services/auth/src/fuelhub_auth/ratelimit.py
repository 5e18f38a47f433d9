"""Failed-login throttling, in process memory (one limiter per process; see docs/auth.md).

Checked *before* a password hash is computed, so the limiter can't be used to burn CPU.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureLimiter:
    """At most ``limit`` failures per key within a sliding ``window_seconds``.

    Memory is bounded: beyond ``max_keys`` tracked keys the least recently failed is forgotten.
    """

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or ``None`` if it may try now."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        now = self._clock()
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        if len(failures) < self._limit:
            return None
        return failures[0] + self._window - now

    def record_failure(self, key: str) -> None:
        failures = self._failures.get(key)
        if failures is None:
            failures = self._failures[key] = deque(maxlen=self._limit)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        failures.append(self._clock())

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)


class LoginThrottle:
    """Failures counted per account name and per client address."""

    def __init__(self, *, per_name: FailureLimiter, per_address: FailureLimiter) -> None:
        self._per_name = per_name
        self._per_address = per_address

    @staticmethod
    def _name_key(name: str) -> str:
        # Case-folded, so "Demo" and "demo" share one budget.
        return name.casefold()

    def retry_after(self, name: str, address: str) -> float | None:
        waits = [
            w
            for w in (
                self._per_name.retry_after(self._name_key(name)),
                self._per_address.retry_after(address),
            )
            if w is not None
        ]
        return max(waits) if waits else None

    def failed(self, name: str, address: str) -> None:
        self._per_name.record_failure(self._name_key(name))
        self._per_address.record_failure(address)

    def succeeded(self, name: str) -> None:
        self._per_name.reset(self._name_key(name))
