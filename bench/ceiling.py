"""The ceiling: a private nginx (own config, own free port, in a temp dir) serving saved
response bodies as static files, the best this machine does for the same bytes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from fuelhub_common.testing import free_port

CONFIG = """
worker_processes {workers};
daemon off;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    default_type application/json;
    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {base}/www;
        location / {{ try_files $uri =404; }}
    }}
}}
"""


class StaticServer:
    """The files it serves: ``put`` one (before or after start), ``url`` to ask for it."""

    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.port = port

    def put(self, name: str, body: bytes) -> str:
        path = self.base / "www" / name
        path.write_bytes(body)
        path.chmod(0o644)  # nginx's workers run as nobody when started by root
        return self.url(name)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@contextmanager
def static_nginx(workers: str = "auto") -> Iterator[StaticServer]:
    """Start nginx in the foreground on a free port, in a temp dir of its own (world-readable:
    nginx's workers run as nobody when started by root); stop it and remove the dir on exit."""
    exe = shutil.which("nginx")
    if exe is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
    base = Path(tempfile.mkdtemp(prefix="fuelhub-ceiling-"))
    for sub in ("www", "tmp"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for path in (base, base / "www"):
        path.chmod(0o755)
    port = free_port()
    conf = base / "nginx.conf"
    conf.write_text(CONFIG.format(base=base, port=port, workers=workers))
    with open(base / "nginx.out", "wb") as out:
        process = subprocess.Popen(
            [exe, "-p", str(base), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    server = StaticServer(base, port)
    probe = server.put("probe.txt", b"ok")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(probe, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"static nginx did not start: {(base / 'error.log')}")
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGQUIT if os.name == "posix" else signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)
