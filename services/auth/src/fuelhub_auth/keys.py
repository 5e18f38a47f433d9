"""Signing keys: Ed25519 JWKs with a ``kid``, loaded from files or the environment.

A key file is a private JWK (JSON) plus a non-standard ``iat`` member: when the key was made.
The newest key signs; an older key is *retired* from the moment a newer one exists, and stays
published in the JWKS (and accepted for refresh tokens) for ``retention`` seconds after that, so
every token it signed can expire naturally. Rotation is: add a new key (``fuelhub-auth
rotate-key``), and every process picks it up within ``reload_seconds``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

log = logging.getLogger(__name__)

SIGNING_ALG = "EdDSA"


class KeyConfigError(Exception):
    """Signing keys are missing or unreadable (the service must not start)."""


@dataclass(frozen=True)
class SigningKey:
    key: OKPKey
    created_at: int

    @property
    def kid(self) -> str:
        kid = self.key.kid
        assert kid is not None  # every key we load or make has one
        return kid

    def public_jwk(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {k: public[k] for k in ("kty", "crv", "x", "kid")} | {
            "alg": SIGNING_ALG,
            "use": "sig",
        }


def new_signing_key(now: Callable[[], float] = time.time) -> SigningKey:
    """A fresh Ed25519 key whose ``kid`` is its RFC 7638 thumbprint."""
    key = OKPKey.generate_key("Ed25519", parameters={"alg": SIGNING_ALG, "use": "sig"})
    key.ensure_kid()
    return SigningKey(key=key, created_at=int(now()))


def parse_key(document: object, source: str) -> SigningKey:
    """One private key document (a JWK with ``iat``); raises :class:`KeyConfigError`."""
    if not isinstance(document, dict):
        raise KeyConfigError(f"{source}: not a JSON object")
    created = document.get("iat")
    if not isinstance(created, int):
        raise KeyConfigError(f"{source}: missing integer 'iat' (creation time)")
    jwk = {k: v for k, v in document.items() if k != "iat"}
    try:
        key = OKPKey.import_key(jwk)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise KeyConfigError(f"{source}: not an OKP JWK ({exc})") from None
    if not key.is_private or key.curve_name != "Ed25519":
        raise KeyConfigError(f"{source}: must be a private Ed25519 key")
    key.ensure_kid()
    return SigningKey(key=key, created_at=created)


def key_document(key: SigningKey) -> dict[str, Any]:
    return {**key.key.as_dict(private=True), "iat": key.created_at}


def load_key_dir(directory: Path) -> list[SigningKey]:
    if not directory.is_dir():
        return []
    keys = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise KeyConfigError(f"{path}: unreadable ({exc})") from None
        keys.append(parse_key(document, str(path)))
    return keys


def load_key_env(value: str) -> list[SigningKey]:
    try:
        document = json.loads(value)
    except ValueError:
        raise KeyConfigError("AUTH_SIGNING_KEYS: not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyConfigError('AUTH_SIGNING_KEYS: expected {"keys": [...]}')
    return [parse_key(d, f"AUTH_SIGNING_KEYS[{i}]") for i, d in enumerate(document["keys"])]


def write_key(directory: Path, key: SigningKey) -> Path:
    """Store ``key`` in ``directory`` readable by its owner only (written atomically)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{key.created_at}-{key.kid}.json"
    tmp = directory / f".{path.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(key_document(key), handle)
    tmp.replace(path)
    return path


def prune_key_dir(directory: Path, retention_seconds: int, now: float | None = None) -> list[str]:
    """Delete key files retired longer than ``retention_seconds`` ago; return their kids."""
    now = time.time() if now is None else now
    keys = sorted(load_key_dir(directory), key=lambda k: k.created_at)
    removed = []
    for older, newer in itertools.pairwise(keys):
        if newer.created_at + retention_seconds < now:
            (directory / f"{older.created_at}-{older.kid}.json").unlink(missing_ok=True)
            removed.append(older.kid)
    return removed


class KeyRing:
    """The current keys: which one signs, which ones verify and are published."""

    def __init__(self, keys: list[SigningKey], retention_seconds: int) -> None:
        if not keys:
            raise KeyConfigError("no signing keys")
        self._keys = sorted(keys, key=lambda k: k.created_at, reverse=True)
        self._retention = retention_seconds

    @property
    def signing_key(self) -> SigningKey:
        return self._keys[0]

    def live_keys(self, now: float | None = None) -> list[SigningKey]:
        """The signing key and the retired keys still inside their retention window."""
        now = time.time() if now is None else now
        live = [self._keys[0]]
        for newer, older in zip(self._keys, self._keys[1:], strict=False):
            if newer.created_at + self._retention >= now:
                live.append(older)
        return live

    def verification_keys(self, now: float | None = None) -> KeySet:
        return KeySet([k.key for k in self.live_keys(now)])

    def jwks(self, now: float | None = None) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.live_keys(now)]}


class KeySource:
    """Where the ring comes from; re-reads the key directory (cheaply) so a rotation made by
    ``fuelhub-auth rotate-key`` reaches a running service without a restart."""

    def __init__(
        self,
        *,
        directory: Path,
        env_value: str | None,
        retention_seconds: int,
        allow_generate: bool,
        reload_seconds: float = 5.0,
    ) -> None:
        self._directory = directory
        self._env_value = env_value
        self._retention = retention_seconds
        self._reload_seconds = reload_seconds
        self._checked_at = 0.0
        self._stamp: tuple[tuple[str, int], ...] = ()
        if env_value is None and not load_key_dir(directory):
            if not allow_generate:
                raise KeyConfigError(
                    f"no signing key in {directory} and AUTH_SIGNING_KEYS is unset; the prod "
                    "profile never generates one: run `fuelhub-auth rotate-key` to create it"
                )
            path = write_key(directory, new_signing_key())
            log.warning("generated a dev signing key", extra={"path": str(path)})
        self._ring = self._load()

    def _dir_stamp(self) -> tuple[tuple[str, int], ...]:
        try:
            return tuple(
                sorted((p.name, p.stat().st_mtime_ns) for p in self._directory.glob("*.json"))
            )
        except OSError:
            return ()

    def _load(self) -> KeyRing:
        if self._env_value is not None:
            return KeyRing(load_key_env(self._env_value), self._retention)
        self._stamp = self._dir_stamp()
        return KeyRing(load_key_dir(self._directory), self._retention)

    def ring(self) -> KeyRing:
        """The current ring, re-read when the key directory changed (checked every few s)."""
        if self._env_value is not None:
            return self._ring
        now = time.monotonic()
        if now - self._checked_at >= self._reload_seconds:
            self._checked_at = now
            if self._dir_stamp() != self._stamp:
                try:
                    self._ring = self._load()
                    log.info("signing keys reloaded", extra={"kid": self._ring.signing_key.kid})
                except KeyConfigError as exc:  # a half-written change: keep the old ring
                    log.error("signing keys not reloaded", extra={"error": str(exc)})
        return self._ring
