"""Pytest fixtures for tests against the real RabbitMQ and Postgres (a pytest plugin).

Each test session gets its own RabbitMQ virtual host and its own Postgres databases, so test runs
never see each other's queues or rows and the shared servers are left as they were.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRabbitMQ:
    """A RabbitMQ node of our own (own node name, ports, data dir) that tests may stop.

    Fault tests restart *this* node, never the machine's shared one. Its data directory
    survives a restart, so durable queues and persistent messages do too.
    """

    SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"

    def __init__(self, base: str) -> None:
        self.base = base
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"fuelhub-{uuid.uuid4().hex[:8]}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self._process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=self.base,
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=f"{self.base}/mnesia",
            RABBITMQ_LOG_BASE=f"{self.base}/log",
            RABBITMQ_PID_FILE=f"{self.base}/pid",
            RABBITMQ_ENABLED_PLUGINS_FILE=f"{self.base}/enabled_plugins",
            RABBITMQ_CONFIG_FILE=f"{self.base}/rabbitmq",
        )
        return env

    def start(self, timeout: float = 90) -> None:
        with open(f"{self.base}/enabled_plugins", "w") as handle:
            handle.write("[].\n")
        log = open(f"{self.base}/server.out", "ab")  # noqa: SIM115 - lives with the process
        self._process = subprocess.Popen(
            [self.SERVER], env=self._env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.base
        )
        # await_startup fails at once while the node is not yet reachable: ask until it answers.
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(
                [self.CTL, "-n", self.node, "await_startup", "--timeout", "30"],
                env=self._env(),
                capture_output=True,
                timeout=60,
                check=False,
            )
            if done.returncode == 0:
                return
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private RabbitMQ did not start: {done.stderr.decode()[-500:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self._process is None:
            return
        subprocess.run(
            [self.CTL, "-n", self.node, "shutdown"],
            env=self._env(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=30)
        self.kill()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        # The server script starts the Erlang VM as a child: kill it by its home directory.
        subprocess.run(
            ["pkill", "-9", "-f", f"beam.smp.*-home {self.base} "], check=False, capture_output=True
        )
        for _ in range(100):
            probe = subprocess.run(
                ["pgrep", "-f", f"beam.smp.*-home {self.base} "], check=False, capture_output=True
            )
            if probe.returncode != 0:
                break
            time.sleep(0.05)


@pytest.fixture
def private_rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbitMQ]:
    """A private RabbitMQ node, started; killed after the test whatever happened."""
    if not os.path.exists(PrivateRabbitMQ.SERVER):
        pytest.fail(f"{PrivateRabbitMQ.SERVER} not found: install rabbitmq-server")
    node = PrivateRabbitMQ(str(tmp_path_factory.mktemp("rabbitmq")))
    node.start()
    try:
        yield node
    finally:
        node.kill()


class EventSink:
    """A test subscriber: its own queue bound to an exchange, collecting message bodies.

    Acts as another team would: a durable queue of its own, bound with routing keys.
    """

    def __init__(self, url: str, exchange: str, routing_keys: tuple[str, ...] = ("#",)) -> None:
        self.url = url
        self.exchange = exchange
        self.routing_keys = routing_keys
        self.messages: list[tuple[str, str | None, bytes]] = []  # (routing key, id, body)
        self._connection: object = None
        self._queue_name = f"test-sink-{uuid.uuid4().hex[:8]}"

    async def __aenter__(self) -> EventSink:
        import aio_pika

        connection = await aio_pika.connect_robust(self.url)
        self._connection = connection
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(self._queue_name, durable=True)
        for key in self.routing_keys:
            await queue.bind(exchange, routing_key=key)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                self.messages.append((message.routing_key or "", message.message_id, message.body))

        await queue.consume(on_message)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()  # type: ignore[attr-defined]

    def bodies(self, routing_key: str) -> list[bytes]:
        return [body for key, _, body in self.messages if key == routing_key]

    async def wait_for(self, predicate: Callable[[EventSink], bool], seconds: float = 20) -> None:
        import asyncio

        deadline = asyncio.get_running_loop().time() + seconds
        while not predicate(self):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; got {len(self.messages)} messages")
            await asyncio.sleep(0.05)


SEED_CONTRACT = (
    Path(__file__).resolve().parents[4] / ".." / "shared" / "contracts" / "seed-api-v1.yaml"
)


def seed_contract_schema(name: str) -> dict[str, Any]:
    """A component schema of the seed's OpenAPI file, made strict as a generated client is.

    Every object forbids fields the YAML does not name, and ``nullable`` becomes JSON Schema's
    null type; references are inlined.
    """
    import yaml

    document = yaml.safe_load(SEED_CONTRACT.read_text())
    components = document["components"]["schemas"]

    def strict(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return strict(components[node["$ref"].rsplit("/", 1)[1]])
            out = {k: strict(v) for k, v in node.items() if k not in ("nullable", "example")}
            if node.get("nullable"):
                if "type" in out:
                    out["type"] = [out["type"], "null"]
                if "enum" in out:
                    out["enum"] = [*out["enum"], None]
            if node.get("type") == "object":
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [strict(v) for v in node]
        return node

    return strict(components[name])  # type: ignore[no-any-return]
