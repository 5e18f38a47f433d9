"""Pytest fixtures for tests against the real RabbitMQ and Postgres (a pytest plugin).

Each test session gets its own RabbitMQ virtual host and its own Postgres databases, so test runs
never see each other's queues or rows and the shared servers are left as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Coroutine, Iterator
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


class PrivatePostgres:
    """A Postgres cluster of our own (``initdb`` in a temporary folder) that tests may stop.

    Outage tests stop *this* cluster (``stop(mode="immediate")`` is a crash), never the shared
    server. Its data directory survives a restart. As root, the server runs as ``postgres``.
    """

    BIN = Path(os.environ.get("TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))

    def __init__(self, base: str) -> None:
        self.base = Path(base)
        self.data = self.base / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.decode()[-800:]}")

    def init(self) -> PrivatePostgres:
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base}"
            " -c fsync=off -c full_page_writes=off -c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (clean), or ``immediate`` (no shutdown checkpoint: recovery on restart)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def database_url(self, name: str) -> str:
        return database_url_for(name, self.url)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A private Postgres cluster, started; stopped and removed after the test."""
    import tempfile

    if not (PrivatePostgres.BIN / "initdb").exists():
        pytest.fail(f"{PrivatePostgres.BIN}/initdb not found: install postgresql")
    # Not under pytest's temporary folders: those are private to root, and the server may run
    # as ``postgres``.
    base = tempfile.mkdtemp(prefix="fuelhub-pg-")
    cluster = PrivatePostgres(base).init()
    try:
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


class FaultProxy:
    """A loopback TCP proxy with faults, for tests that must not touch the shared servers.

    Put it between a process and Postgres or RabbitMQ (``url_through``), then inject:

    * ``cut()``: every connection dropped (RST) and new ones refused, like a server gone away;
      ``start()`` listens again on the same port;
    * ``drop_connections()``: every connection dropped, new ones accepted (a network blip);
    * ``latency``: seconds added before each chunk is forwarded, both ways;
    * ``drip``: bytes per second each connection may carry (a slow, congested link);
    * ``blackhole``: connections stay open but nothing is forwarded (a half-open peer: the
      client only notices through its own timeouts or heartbeats).

    It runs its own event loop in a thread, so a test may block (``time.sleep``, subprocess
    calls) without stalling the traffic it relays.
    """

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.latency = 0.0
        self.drip: int | None = None
        self.blackhole = False
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"fault-proxy:{target_port}", daemon=True
        )
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()

    def url_through(self, url: str) -> str:
        """``url`` with its host and port replaced by this proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def start(self) -> FaultProxy:
        """Listen (again, on the same port once one was chosen)."""
        self._call(self._start())
        return self

    def cut(self) -> None:
        """Stop listening and drop every connection: the server is gone."""
        self._call(self._cut(listen=False))

    def drop_connections(self) -> None:
        """Drop every open connection; new ones are still accepted."""
        self._call(self._cut(listen=True))

    def close(self) -> None:
        """Cut, and end the proxy's thread."""
        with contextlib.suppress(Exception):
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _start(self) -> None:
        if self._server is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The port is reused after a cut while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self._server = await asyncio.start_server(self._handle, sock=sock)
        self.port = int(sock.getsockname()[1])

    async def _shutdown(self) -> None:
        await self._cut(listen=False)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _cut(self, *, listen: bool) -> None:
        if not listen and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        self._transports |= {writer.transport, up_writer.transport}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._transports -= {writer.transport, up_writer.transport}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                # Held back while black-holed (the flag is set from the test's thread).
                while self.blackhole and not writer.transport.is_closing():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                if self.latency:
                    await asyncio.sleep(self.latency)
                if self.drip:
                    for start in range(0, len(data), max(1, self.drip // 20)):
                        writer.write(data[start : start + max(1, self.drip // 20)])
                        await writer.drain()
                        await asyncio.sleep(0.05)
                    continue
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


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


def run_schemathesis(
    schema: Any,
    call: Callable[[Any], Any],
    *,
    examples: int,
    skip: Collection[str] = (),
) -> dict[str, Counter[int]]:
    """Every operation of a schemathesis ``schema`` with ``examples`` derandomized cases.

    ``call(case)`` sends one case and returns the response (it checks what it must);
    operations whose ``operationId`` or path is in ``skip`` are left out. Returns the statuses
    seen per operation label, for the caller to check the fuzzing reached past refusals.
    """
    from hypothesis import HealthCheck, given, settings

    statuses: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in skip or operation.path in skip:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = call(case)
            statuses.setdefault(case.operation.label, Counter())[response.status_code] += 1

        run()
    return statuses
