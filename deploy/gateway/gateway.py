"""Render the gateway's nginx.conf into var/gateway/ and run nginx in the foreground.

Usage (from the repository root): ``python deploy/gateway/gateway.py [--check]``.
Settings (environment, all optional):

=========================== ============================================ ====================
name                        meaning                                      default
=========================== ============================================ ====================
GATEWAY_LISTEN              address:port nginx listens on                127.0.0.1:8000
GATEWAY_AUTH_UPSTREAM       the auth service                             127.0.0.1:8001
GATEWAY_API_UPSTREAM        read API; or unix:/path (API_UNIX_SOCKET)    127.0.0.1:8002
GATEWAY_ADMIN_UPSTREAM      the store's admin UI                         127.0.0.1:8003
GATEWAY_CORS_ORIGINS        comma-separated origins allowed by CORS      (none)
GATEWAY_CLIENT_MAX_BODY     largest request body                         10m
GATEWAY_RATE_LIMIT          requests per second per client address       50r/s
GATEWAY_RATE_BURST          burst above the rate before 429              200
GATEWAY_CONN_LIMIT          concurrent connections per client address    256
GATEWAY_WORKERS             nginx worker processes                       auto
GATEWAY_ACCESS_LOG          1 to log each request to stdout              0
GATEWAY_PREFIX              path prefix clients see (X-Forwarded-Prefix) (empty)
GATEWAY_DIR                 where the rendered config and temp files go  var/gateway
=========================== ============================================ ====================

Runs as root (workers drop to ``nobody``) or as any user: every path it writes is under
GATEWAY_DIR.
"""

from __future__ import annotations

import grp
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")
_ADDRESS = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):[0-9]{1,5}")
# An upstream may also be a Unix socket on this host (``unix:/path``; the API's
# API_UNIX_SOCKET): cheaper per request than loopback TCP.
_UPSTREAM = re.compile(_ADDRESS.pattern + r"|unix:/[A-Za-z0-9._/-]{1,100}")
_SIZE = re.compile(r"[0-9]{1,6}[kKmM]?")
_RATE = re.compile(r"[0-9]{1,6}r/[sm]")
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~-]+){0,8}")
_INT = re.compile(r"[0-9]{1,6}")
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


class ConfigError(ValueError):
    """A GATEWAY_* value nginx must not see; the message names it."""


def _get(env: Mapping[str, str], name: str, default: str, pattern: re.Pattern[str]) -> str:
    value = env.get(name, default).strip()
    if not pattern.fullmatch(value):
        raise ConfigError(f"{name}={value!r} is not valid (expected {pattern.pattern})")
    return value


def cors_block() -> str:
    lines = [
        "add_header Access-Control-Allow-Origin $cors_origin always;",
        "add_header Vary $cors_vary always;",
        'add_header Access-Control-Allow-Credentials "false" always;',
        'add_header Access-Control-Allow-Methods "GET, POST, OPTIONS" always;',
        "add_header Access-Control-Allow-Headers "
        '"Authorization, Content-Type, If-None-Match, Last-Event-ID" always;',
        'add_header Access-Control-Expose-Headers "ETag, Retry-After, WWW-Authenticate" always;',
        'add_header Access-Control-Max-Age "600" always;',
        # A preflight is answered here: the services never see OPTIONS.
        "if ($request_method = OPTIONS) { return 204; }",
    ]
    return "\n".join(" " * 12 + line for line in lines)


def render(env: Mapping[str, str], *, is_root: bool) -> str:
    """The nginx.conf text for these settings (validated: nothing unchecked reaches nginx)."""
    origins = [o.strip() for o in env.get("GATEWAY_CORS_ORIGINS", "").split(",") if o.strip()]
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"GATEWAY_CORS_ORIGINS: {origin!r} is not an origin like https://app.example"
            )
    origin_map = "\n".join(f'        "{o}" $http_origin;' for o in origins)
    user_line = ""
    if is_root:
        try:
            grp.getgrnam("nogroup")
            user_line = "user nobody nogroup;"
        except KeyError:
            user_line = "user nobody;"
    workers = env.get("GATEWAY_WORKERS", "auto").strip()
    if workers != "auto" and not _INT.fullmatch(workers):
        raise ConfigError(f"GATEWAY_WORKERS={workers!r} must be a number or auto")
    access = env.get("GATEWAY_ACCESS_LOG", "0").strip() in ("1", "true", "yes")
    values = {
        "USER_LINE": user_line,
        "WORKERS": workers,
        "ERROR_LOG_LEVEL": "warn",
        "ACCESS_LOG": "/dev/stdout" if access else "off",
        "LISTEN": _get(env, "GATEWAY_LISTEN", "127.0.0.1:8000", _ADDRESS),
        "AUTH_UPSTREAM": _get(env, "GATEWAY_AUTH_UPSTREAM", "127.0.0.1:8001", _UPSTREAM),
        "API_UPSTREAM": _get(env, "GATEWAY_API_UPSTREAM", "127.0.0.1:8002", _UPSTREAM),
        "ADMIN_UPSTREAM": _get(env, "GATEWAY_ADMIN_UPSTREAM", "127.0.0.1:8003", _UPSTREAM),
        "CLIENT_MAX_BODY_SIZE": _get(env, "GATEWAY_CLIENT_MAX_BODY", "10m", _SIZE),
        "RATE_LIMIT": _get(env, "GATEWAY_RATE_LIMIT", "50r/s", _RATE),
        "RATE_BURST": _get(env, "GATEWAY_RATE_BURST", "200", _INT),
        "CONN_LIMIT": _get(env, "GATEWAY_CONN_LIMIT", "256", _INT),
        "PREFIX": _get(env, "GATEWAY_PREFIX", "", _PREFIX),
        "CORS_ORIGIN_MAP": origin_map,
        "CORS": cors_block(),
    }
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        if match[1] not in values:
            missing.append(match[1])
            return match[0]
        return values[match[1]]

    text = _PLACEHOLDER.sub(fill, TEMPLATE.read_text())
    if missing:
        raise ConfigError(f"template placeholders without a value: {missing}")
    return text


def prepare(prefix: Path, text: str) -> Path:
    """Write the config and the temp folders under ``prefix``; return the config's path."""
    for sub in ("tmp", "logs"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        raise SystemExit(
            "gateway: nginx is not installed. Install it with `sudo apt-get install -y nginx` "
            "(Debian/Ubuntu) or `brew install nginx` (macOS), then run again."
        )
    return found


def main(argv: list[str]) -> None:
    prefix = Path(os.environ.get("GATEWAY_DIR", "var/gateway")).resolve()
    try:
        text = render(os.environ, is_root=os.geteuid() == 0)
    except ConfigError as exc:
        raise SystemExit(f"gateway: {exc}") from None
    conf = prepare(prefix, text)
    nginx = nginx_binary()
    # -e: the compiled-in error log (/var/log/nginx) may not be writable by this user.
    args = [nginx, "-p", f"{prefix}/", "-e", "stderr", "-c", str(conf)]
    subprocess.run([*args, "-t", "-q"], check=True)
    if "--check" in argv:
        print(f"gateway: {conf} is valid")
        return
    print(f"gateway: nginx on {os.environ.get('GATEWAY_LISTEN', '127.0.0.1:8000')}", flush=True)
    # exec: nginx becomes this process, so the process manager's signals reach it directly.
    os.execv(nginx, [*args, "-g", "daemon off;"])  # noqa: S606 (fixed argv, no shell)


if __name__ == "__main__":
    main(sys.argv[1:])
