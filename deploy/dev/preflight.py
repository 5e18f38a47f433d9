"""Checks what `make run` needs before starting anything, with one clear line per problem."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/fuelhub")
BROKER_URL = os.environ.get("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")

HOW_TO_START = {
    "PostgreSQL": (
        "start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    ),
    "RabbitMQ": "start it: rabbitmq-server -detached",
}


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def ensure_database() -> None:
    """Create the fuelhub database if it is missing (local defaults only)."""
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/") or "fuelhub"
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"preflight: created database {name}")


def main() -> int:
    problems = []
    if not reachable(DATABASE_URL, 5432):
        problems.append(f"PostgreSQL unreachable at {DATABASE_URL}; {HOW_TO_START['PostgreSQL']}")
    if not reachable(BROKER_URL, 5672):
        problems.append(f"RabbitMQ unreachable at {BROKER_URL}; {HOW_TO_START['RabbitMQ']}")
    for problem in problems:
        print(f"make run: {problem}", file=sys.stderr)
    if problems:
        return 1
    ensure_database()
    return 0


if __name__ == "__main__":
    sys.exit(main())
