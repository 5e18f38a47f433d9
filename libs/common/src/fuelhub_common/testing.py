"""Pytest fixtures for tests against the real RabbitMQ and Postgres (a pytest plugin).

Each test session gets its own RabbitMQ virtual host and its own Postgres databases, so test runs
never see each other's queues or rows and the shared servers are left as they were.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

ADMIN_BROKER_URL = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _rabbitmqctl(*args: str) -> None:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run(
        [exe, *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def broker_url_for_vhost(vhost: str, base: str = ADMIN_BROKER_URL) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


@pytest.fixture(scope="session")
def rabbitmq_vhost_factory() -> Iterator[Callable[[], str]]:
    """Makes fresh virtual hosts on the shared RabbitMQ; returns their AMQP URLs."""
    made: list[str] = []
    user = urlsplit(ADMIN_BROKER_URL).username or "guest"

    def make() -> str:
        vhost = f"fuelhub-test-{uuid.uuid4().hex[:10]}"
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        made.append(vhost)
        return broker_url_for_vhost(vhost)

    yield make
    for vhost in made:
        with contextlib.suppress(subprocess.CalledProcessError):
            _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def rabbitmq_url(rabbitmq_vhost_factory: Callable[[], str]) -> str:
    """One virtual host for the whole test session."""
    return rabbitmq_vhost_factory()


def database_url_for(name: str, base: str = ADMIN_DATABASE_URL) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def postgres_database_factory() -> Iterator[Callable[[], str]]:
    """Makes fresh, empty databases on the shared Postgres; returns their URLs."""
    import psycopg

    made: list[str] = []

    def make() -> str:
        name = f"fuelhub_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return database_url_for(name)

    yield make
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
