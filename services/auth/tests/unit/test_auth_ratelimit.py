"""The failed-login limiter (pure, with a fake clock)."""

from __future__ import annotations

from fuelhub_auth.ratelimit import FailureLimiter, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_limit_then_retry_after_then_window_passes() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=3, window_seconds=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("k") is None
        limiter.record_failure("k")
        clock.now += 1
    wait = limiter.retry_after("k")
    assert wait == 57.0  # the first failure (at 100) leaves the window at 160; now is 103
    clock.now = 160.0
    assert limiter.retry_after("k") is None  # the oldest failure aged out


def test_reset_and_independent_keys() -> None:
    limiter = FailureLimiter(limit=1, window_seconds=60, clock=Clock())
    limiter.record_failure("a")
    assert limiter.retry_after("a") is not None
    assert limiter.retry_after("b") is None
    limiter.reset("a")
    assert limiter.retry_after("a") is None


def test_memory_is_bounded() -> None:
    limiter = FailureLimiter(limit=1, window_seconds=60, max_keys=10, clock=Clock())
    for i in range(1000):
        limiter.record_failure(f"k{i}")
    assert len(limiter._failures) == 10
    assert limiter.retry_after("k999") is not None


def test_throttle_combines_name_and_address_case_insensitively() -> None:
    clock = Clock()
    throttle = LoginThrottle(
        per_name=FailureLimiter(limit=2, window_seconds=60, clock=clock),
        per_address=FailureLimiter(limit=3, window_seconds=120, clock=clock),
    )
    throttle.failed("Demo", "1.1.1.1")
    throttle.failed("demo", "2.2.2.2")
    assert throttle.retry_after("DEMO", "3.3.3.3") == 60
    throttle.succeeded("demo")
    assert throttle.retry_after("demo", "3.3.3.3") is None
    for name in ("a", "b", "c"):
        throttle.failed(name, "9.9.9.9")
    assert throttle.retry_after("d", "9.9.9.9") == 120
