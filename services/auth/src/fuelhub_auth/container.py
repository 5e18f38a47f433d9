"""The process's long-lived objects, built once at start-up (the composition root)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fuelhub_auth.db import Database
from fuelhub_auth.keys import KeySource
from fuelhub_auth.metrics import AuthMetrics
from fuelhub_auth.passwords import Hasher
from fuelhub_auth.ratelimit import FailureLimiter, LoginThrottle
from fuelhub_auth.service import TokenService
from fuelhub_auth.settings import AuthSettings


@dataclass
class Container:
    settings: AuthSettings
    db: Database
    keys: KeySource
    hasher: Hasher
    metrics: AuthMetrics
    throttle: LoginThrottle
    tokens: TokenService


def make_hasher(settings: AuthSettings, metrics: AuthMetrics | None = None) -> Hasher:
    counter = metrics.password_hashes if metrics is not None else None
    return Hasher(
        time_cost=settings.auth_argon2_time_cost,
        memory_kib=settings.auth_argon2_memory_kib,
        parallelism=settings.auth_argon2_parallelism,
        max_concurrent=settings.auth_max_concurrent_hashes,
        on_compute=(lambda op: counter.labels(operation=op).inc()) if counter else lambda op: None,
    )


def make_key_source(settings: AuthSettings) -> KeySource:
    secret = settings.auth_signing_keys
    return KeySource(
        directory=settings.auth_keys_dir,
        env_value=secret.get_secret_value() if secret is not None else None,
        retention_seconds=settings.key_retention_seconds,
        allow_generate=settings.auth_profile == "dev",
    )


def build_container(
    settings: AuthSettings,
    *,
    metrics: AuthMetrics | None = None,
    clock: Callable[[], float] = time.time,
) -> Container:
    metrics = metrics or AuthMetrics()
    db = Database(settings.sqlalchemy_url)
    keys = make_key_source(settings)
    hasher = make_hasher(settings, metrics)
    window = settings.auth_login_failure_window_seconds
    throttle = LoginThrottle(
        per_name=FailureLimiter(
            limit=settings.auth_login_max_failures_per_username, window_seconds=window
        ),
        per_address=FailureLimiter(
            limit=settings.auth_login_max_failures_per_address, window_seconds=window
        ),
    )
    tokens = TokenService(
        settings=settings,
        db=db,
        keys=keys,
        hasher=hasher,
        throttle=throttle,
        metrics=metrics,
        clock=clock,
    )
    return Container(
        settings=settings,
        db=db,
        keys=keys,
        hasher=hasher,
        metrics=metrics,
        throttle=throttle,
        tokens=tokens,
    )
