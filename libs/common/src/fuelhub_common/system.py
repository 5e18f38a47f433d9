"""Start the whole local system (as `make run` does) as subprocesses, on free ports.

The demo upstreams, both ingestors, the store, auth, the API, the nginx gateway and, if asked,
the store's admin run for real against a fresh Postgres database and a fresh RabbitMQ virtual
host on the shared servers (made here and dropped on exit, unless the caller passes its own).
Used by the end-to-end tests, the benchmarks (``bench/``) and the load tests::

    with run_system(tmp_path, SystemConfig(stations=1000)) as system:
        system.wait_for_stations(...)
        token = system.token()
        httpx.get(f"{system.gateway}/api/v1/fuel-stations", headers=system.auth(token))

Every process's output goes to ``<workdir>/logs/<name>.log``. Nothing here binds a fixed port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fuelhub_common.testing import (
    ADMIN_BROKER_URL,
    ADMIN_DATABASE_URL,
    broker_url_for_vhost,
    database_url_for,
    free_port,
)

ROOT = Path(__file__).resolve().parents[4]
DEMO_USER = {"username": "demo", "password": "demo12345"}
ADMIN_PASSWORD = "admin-password-for-tests"  # noqa: S105 - a throwaway local account

# Start order: upstreams first, consumers before producers, the gateway last.
SERVICES = ("demo", "auth", "api", "store", "admin", "ingest1", "ingest2", "gateway")


@dataclass(frozen=True)
class SystemConfig:
    """What to start and how.

    ``env`` is added to every process's environment; ``service_env`` per process name
    (one of ``SERVICES``) and wins over ``env``. The gateway's rate limit is raised far above
    the default so that load tools from one address are not answered ``429``.
    """

    stations: int = 40
    source1_poll_interval: float = 5.0
    source2_poll_interval: float = 1.0
    demo_evolve: bool = False
    with_admin: bool = False
    api_unix_socket: bool = False  # the gateway reaches the API over a Unix socket, not TCP
    gateway_rate_limit: str = "999999r/s"
    gateway_rate_burst: int = 999999
    env: Mapping[str, str] = field(default_factory=dict)
    service_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    start_timeout: float = 300.0


@dataclass
class LocalSystem:
    """A running system: its URLs, ports, processes and logs."""

    workdir: Path
    database_url: str
    broker_url: str
    ports: dict[str, int]
    env: dict[str, str]
    config: SystemConfig
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def url(self, name: str) -> str:
        """``http://127.0.0.1:<port>`` of a process (each one serves HTTP: health or more)."""
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def gateway(self) -> str:
        return self.url("gateway")

    @property
    def api(self) -> str:
        return self.url("api")

    @property
    def auth_url(self) -> str:
        return self.url("auth")

    @property
    def demo(self) -> str:
        return self.url("demo")

    def token(self, username: str | None = None, password: str | None = None) -> str:
        """An access token from the gateway's seed login endpoint (default: the demo user)."""
        response = httpx.post(
            f"{self.gateway}/api/v1/token/",
            json={
                "username": username or DEMO_USER["username"],
                "password": password or DEMO_USER["password"],
            },
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access"])

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def pids(self) -> dict[str, int]:
        """Process ids of the running processes (the top process of each service)."""
        return {n: p.pid for n, p in self.processes.items() if p.poll() is None}

    def start(self, name: str) -> None:
        """Start (or start again) one process; its log is appended to."""
        argv, extra = self.commands[name]
        with open(self.logs / f"{name}.log", "ab") as out:
            self.processes[name] = subprocess.Popen(
                argv,
                env={**self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,  # a signal to the session reaches nginx's workers too
            )

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Send ``sig`` to one process and wait for it; return its exit code."""
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return process.wait()

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)
        self.wait_ready(names=(name,))

    def wait_ready(self, names: tuple[str, ...] = SERVICES, timeout: float | None = None) -> None:
        """Wait until each named (started) process answers its readiness URL."""
        checks: dict[str, str] = {
            "demo": f"{self.demo}/_control/state",
            "auth": f"{self.auth_url}/.well-known/jwks.json",
            "api": f"{self.api}/readyz",
            "store": f"{self.url('store')}/readyz",
            "admin": f"{self.url('admin')}/healthz",
            "ingest1": f"{self.url('ingest1')}/healthz",
            "ingest2": f"{self.url('ingest2')}/healthz",
            "gateway": f"{self.gateway}/.well-known/jwks.json",
        }
        for name in names:
            if name in self.processes:
                self._wait(
                    lambda url=checks[name]: httpx.get(url, timeout=5).status_code == 200,  # type: ignore[misc]
                    name,
                    timeout or self.config.start_timeout,
                )

    def wait_for_stations(self, count: int, timeout: float = 600, priced: int = 0) -> None:
        """Wait until the API lists ``count`` stations (and ``priced`` with prices applied).

        ``priced`` is checked in the database: stations that have at least one current price.
        """
        token = self.token()

        def loaded() -> bool:
            page = httpx.get(
                f"{self.api}/api/v1/fuel-stations",
                params={"limit": 1},
                headers=self.auth(token),
                timeout=30,
            )
            return page.status_code == 200 and page.json()["count"] >= count

        self._wait(loaded, f"{count} stations in the API", timeout)
        if priced:
            self._wait(lambda: self.priced_stations() >= priced, f"{priced} priced", timeout)

    def priced_stations(self) -> int:
        """Stations with at least one current price (read from the store's tables)."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(DISTINCT station_id) FROM store.current_prices"
                " WHERE station_id IN (SELECT id FROM store.stations)"
            ).fetchone()
        return int(row[0]) if row else 0

    def _wait(self, check: Callable[[], bool], what: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            with contextlib.suppress(httpx.HTTPError, OSError):
                if check():
                    return
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited while waiting for {what}; "
                                   f"see {self.logs}")  # fmt: skip
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; see {self.logs}")
            time.sleep(0.3)

    def shutdown(self, timeout: float = 30) -> list[str]:
        """SIGTERM every process (in reverse start order); return those that had to be killed."""
        killed: list[str] = []
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                process.wait()
                killed.append(name)
        return killed


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def executable(name: str) -> str:
    """A console script of this environment (next to the running Python, or on PATH)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed in this environment (uv sync)")
    return found


def create_database(admin_url: str = ADMIN_DATABASE_URL) -> str:
    """A fresh empty database on the shared Postgres; its URL."""
    import psycopg

    name = f"fuelhub_sys_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url_for(name, admin_url)


def drop_database(url: str, admin_url: str = ADMIN_DATABASE_URL) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rabbitmqctl(*args: str, check: bool = True) -> None:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([exe, *args], check=check, capture_output=True, timeout=120)


def create_vhost(user: str = "guest", base: str = ADMIN_BROKER_URL) -> str:
    """A fresh virtual host on the shared RabbitMQ; its AMQP URL."""
    vhost = f"fuelhub-sys-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    return broker_url_for_vhost(vhost, base)


def delete_vhost(url: str) -> None:
    from urllib.parse import unquote, urlsplit

    _rabbitmqctl("delete_vhost", unquote(urlsplit(url).path.lstrip("/")), check=False)


def _environment(
    config: SystemConfig,
    workdir: Path,
    ports: dict[str, int],
    database_url: str,
    broker_url: str,
    socket_dir: Path | None,
) -> dict[str, str]:
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    demo = f"http://127.0.0.1:{ports['demo']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BROKER_URL": broker_url,
        "LOG_FORMAT": "text",
        "AUTH_ISSUER": gateway,
        "AUTH_KEYS_DIR": str(workdir / "keys"),
        "AUTH_JWKS_URL": f"http://127.0.0.1:{ports['auth']}/.well-known/jwks.json",
        "AUTH_ARGON2_MEMORY_KIB": "8192",
        "AUTH_DEV_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DEMO_PORT": str(ports["demo"]),
        "DEMO_STATIONS": str(config.stations),
        "DEMO_EVOLVE": "true" if config.demo_evolve else "false",
        "DEMO_SOURCE1_LATENCY": "0",
        "DEMO_SOURCE2_LATENCY": "0",
        "DEMO_LOG_LEVEL": "warning",
        "SOURCE1_URL": f"{demo}/fuel-stations",
        "SOURCE2_URL": f"{demo}/fuel-prices",
        "SOURCE1_POLL_INTERVAL": str(config.source1_poll_interval),
        "SOURCE2_POLL_INTERVAL": str(config.source2_poll_interval),
        "GATEWAY_LISTEN": f"127.0.0.1:{ports['gateway']}",
        "GATEWAY_AUTH_UPSTREAM": f"127.0.0.1:{ports['auth']}",
        "GATEWAY_API_UPSTREAM": f"127.0.0.1:{ports['api']}",
        "GATEWAY_ADMIN_UPSTREAM": f"127.0.0.1:{ports['admin']}",
        "GATEWAY_DIR": str(workdir / "gateway"),
        "GATEWAY_RATE_LIMIT": config.gateway_rate_limit,
        "GATEWAY_RATE_BURST": str(config.gateway_rate_burst),
        "ADMIN_SESSION_SECRET_FILE": str(workdir / "admin-session-secret"),
        "ADMIN_MEDIA_DIR": str(workdir / "media"),
        # The admin reads the shared AUTH_URL (not an ADMIN_ name): without it, it would log
        # in against the default 127.0.0.1:8001, i.e. whatever `make run` has there.
        "AUTH_URL": f"http://127.0.0.1:{ports['auth']}",
    }
    if socket_dir is not None:
        socket = socket_dir / "api.sock"
        env["API_UNIX_SOCKET"] = str(socket)
        env["GATEWAY_API_UPSTREAM"] = f"unix:{socket}"
    if config.with_admin:
        env["FUEL_ALIASES_URL"] = f"http://127.0.0.1:{ports['admin']}/internal/fuel-aliases"
    env.update(config.env)
    return env


@contextlib.contextmanager
def run_system(
    workdir: Path,
    config: SystemConfig | None = None,
    *,
    database_url: str | None = None,
    broker_url: str | None = None,
) -> Iterator[LocalSystem]:
    """Migrate, bootstrap the dev accounts, start every process, wait until all are ready.

    Without ``database_url``/``broker_url`` a fresh database and virtual host are made and
    dropped on exit. On exit every process gets SIGTERM (SIGKILL after 30 s).
    """
    config = config or SystemConfig()
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx): the gateway")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    own_database = database_url is None
    own_vhost = broker_url is None
    database_url = database_url or create_database()
    try:
        broker_url = broker_url or create_vhost()
    except BaseException:
        if own_database:
            drop_database(database_url)
        raise
    ports = {name: free_port() for name in SERVICES}
    # nginx's workers run as nobody under root: the socket's folder must be reachable by them
    # (a pytest or mkdtemp work dir is 0700), and its path short (sun_path).
    socket_dir = Path(tempfile.mkdtemp(prefix="fuelhub-sock-")) if config.api_unix_socket else None
    if socket_dir is not None:
        socket_dir.chmod(0o755)
    env = _environment(config, workdir, ports, database_url, broker_url, socket_dir)
    system = LocalSystem(workdir, database_url, broker_url, ports, env, config)
    port = {n: {"HTTP_PORT": str(ports[n])} for n in SERVICES}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "demo": ([executable("fuelhub-demo-sources")], {}),
        "auth": ([executable("fuelhub-auth"), "serve"], port["auth"]),
        "api": ([executable("fuelhub-api")], port["api"]),
        "store": ([executable("fuelhub-store"), "consume"], port["store"]),
        "admin": ([executable("fuelhub-store-admin")], port["admin"]),
        "ingest1": ([executable("fuelhub-ingest-source1")], port["ingest1"]),
        "ingest2": ([executable("fuelhub-ingest-source2")], port["ingest2"]),
        "gateway": ([sys.executable, str(ROOT / "deploy/gateway/gateway.py")], {}),
    }
    if not config.with_admin:
        del commands["admin"]
    system.commands = {
        name: (argv, {**extra, **config.service_env.get(name, {})})
        for name, (argv, extra) in commands.items()
    }
    try:
        for step in (["fuelhub-store", "migrate"], ["fuelhub-auth", "migrate"],
                     ["fuelhub-auth", "dev-bootstrap"]):  # fmt: skip
            done = subprocess.run(
                [executable(step[0]), *step[1:]], env=env, capture_output=True, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(step)} failed: {done.stderr.decode()[-2000:]}")
        for name in system.commands:
            system.start(name)
        system.wait_ready()
        yield system
    finally:
        system.shutdown()
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)
        if own_vhost:
            delete_vhost(broker_url)
        if own_database:
            drop_database(database_url)


def process_tree_rss_mb(pid: int, *, peak: bool = False) -> float:
    """Resident memory (MB) of a process and all its descendants (e.g. nginx's workers); with
    ``peak``, the sum of each one's highest resident size so far (``VmHWM``)."""
    field = "VmHWM:" if peak else "VmRSS:"
    total = 0.0
    for member in [pid, *_descendants(pid)]:
        total += _status_kib(member, field) / 1024
    return total


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def describe(system: LocalSystem) -> dict[str, Any]:
    """The URLs and process ids, for a log line."""
    return {"urls": {n: system.url(n) for n in system.processes}, "pids": system.pids()}
