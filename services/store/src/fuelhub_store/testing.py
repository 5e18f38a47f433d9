"""Builders of raw-feed events for the store's tests and benchmark (not used in production)."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
from fuelhub_common.events import (
    FuelPrice,
    PriceListChange,
    PriceListDeleted,
    PriceListState,
    PriceListUpserted,
    PricesChanged,
    Source,
    StationChange,
    StationDeleted,
    StationsChanged,
    StationState,
    StationUpserted,
    part_event_id,
)

from fuelhub_store.changeset import ChangeSetPart


def station(
    station_id: int,
    version: datetime,
    *,
    number: int | None = None,
    address: str | None = "ул. Тестовая, 1",
    services: Sequence[str] = ("Мойка",),
    latitude: str = "55.750000",
    longitude: str = "37.610000",
    image_urls: Sequence[str] = (),
) -> StationUpserted:
    return StationUpserted(
        id=station_id,
        version=version,
        state=StationState(
            id=station_id,
            latitude=Decimal(latitude),
            longitude=Decimal(longitude),
            number=station_id if number is None else number,
            address=address,
            image_urls=tuple(image_urls),
            services=tuple(services),
        ),
    )


def station_deleted(station_id: int, version: datetime) -> StationDeleted:
    return StationDeleted(id=station_id, version=version)


def price_list(
    station_id: int, version: datetime, prices: Sequence[tuple[str, str, str]]
) -> PriceListUpserted:
    """``prices`` as (fuel, price, currency) triples."""
    return PriceListUpserted(
        id=station_id,
        version=version,
        state=PriceListState(
            station_id=station_id,
            prices=tuple(FuelPrice(fuel=f, price=Decimal(p), currency=c) for f, p, c in prices),
        ),
    )


def price_list_deleted(station_id: int, version: datetime) -> PriceListDeleted:
    return PriceListDeleted(id=station_id, version=version)


def change_set(
    changes: Sequence[StationChange] | Sequence[PriceListChange],
    observed_at: datetime,
    *,
    prices: bool = False,
    snapshot: bool = False,
    parts: int = 1,
    kept_ids: Sequence[int] = (),
    change_set_id: uuid.UUID | None = None,
) -> list[ChangeSetPart]:
    """One change set split into ``parts`` parts (kept ids in the last), as an ingestor would."""
    cs_id = change_set_id or uuid.uuid4()
    size = max(1, math.ceil(len(changes) / parts))
    out: list[ChangeSetPart] = []
    for number in range(1, parts + 1):
        chunk = tuple(changes[(number - 1) * size : number * size])
        common = {
            "event_id": part_event_id(cs_id, number),
            "source": Source.SOURCE2 if prices else Source.SOURCE1,
            "occurred_at": observed_at,
            "change_set_id": cs_id,
            "part": number,
            "parts": parts,
            "snapshot": snapshot,
            "observed_at": observed_at,
            "kept_ids": tuple(kept_ids) if number == parts else (),
        }
        if prices:
            out.append(PricesChanged(changes=chunk, **common))  # type: ignore[arg-type]
        else:
            out.append(StationsChanged(changes=chunk, **common))  # type: ignore[arg-type]
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StoreProcess:
    """``fuelhub-store consume`` in a child process, logging to a file."""

    def __init__(self, db_url: str, broker_url: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.log = log_dir / f"store-{self.port}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "BROKER_URL": broker_url,
            "HTTP_PORT": str(self.port),
            "STORE_RELAY_INTERVAL": "0.1",
            "SHUTDOWN_TIMEOUT": "10",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        """Start and wait until ready (imports alone take 15 s on a saturated 2-core box)."""
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fuelhub_store.main", "consume"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"store not ready:\n{self.log.read_text()}")

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)
