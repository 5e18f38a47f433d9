"""Structured logging: one JSON object per line, carrying the current change set's event id."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# Set around the handling of one change set, so every line logged meanwhile carries its id.
event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)

# uvicorn adds an ANSI-coloured copy of its message; it is noise in a log pipeline.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    fields = {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RESERVED and not key.startswith("_")
    }
    event_id = event_id_var.get()
    if event_id is not None:
        fields.setdefault("event_id", event_id)
    return fields


class JsonFormatter(logging.Formatter):
    """Formats a record as a JSON line; ``extra={...}`` fields become top-level keys."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


class TextFormatter(logging.Formatter):
    """A human-readable line for local runs; extra fields follow as ``key=value``."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        return f"{line} {extras}" if extras else line


def configure_logging(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Route all logging (ours, uvicorn's, faststream's) to stdout in one format."""
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "aio_pika", "aiormq"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Per-request access lines and the AMQP client's chatter drown the change-set lines.
    logging.getLogger("uvicorn.access").setLevel("WARNING")
    logging.getLogger("aiormq").setLevel("WARNING")
    logging.getLogger("aio_pika").setLevel("WARNING")
    logging.getLogger("httpx").setLevel("WARNING")
