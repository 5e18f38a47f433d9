"""argon2id hashing of passwords and client secrets (pwdlib), off the event loop."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher


class Hasher:
    """Hashes and verifies secrets; every argon2 computation is reported to ``on_compute``."""

    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        max_concurrent: int = 4,
        on_compute: Callable[[str], None] = lambda operation: None,
    ) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
        )
        self._on_compute = on_compute
        # Each hash holds ~19 MiB and a core for tens of ms: a flood of logins from many
        # addresses queues here instead of exhausting memory and the thread pool.
        self._limiter = anyio.CapacityLimiter(max_concurrent)
        # Verified when the account does not exist, so an unknown name costs the same time
        # as a wrong password (no user enumeration by timing).
        self._dummy = self._hash.hash("fuelhub-dummy-password")

    def hash_sync(self, secret: str) -> str:
        self._on_compute("hash")
        return self._hash.hash(secret)

    async def hash(self, secret: str) -> str:
        return await anyio.to_thread.run_sync(self.hash_sync, secret, limiter=self._limiter)

    async def verify(self, secret: str, hashed: str | None) -> tuple[bool, str | None]:
        """``(valid, new_hash)``; ``new_hash`` is set when the parameters changed since
        ``hashed`` was made (store it). ``hashed=None`` burns the same time and fails."""

        def work() -> tuple[bool, str | None]:
            self._on_compute("verify")
            if hashed is None:
                self._hash.verify(secret, self._dummy)
                return False, None
            try:
                return self._hash.verify_and_update(secret, hashed)
            except Exception:  # an unreadable stored hash is a failed login, not a 500
                return False, None

        return await anyio.to_thread.run_sync(work, limiter=self._limiter)
