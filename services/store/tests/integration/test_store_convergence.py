"""Property: whatever the delivery order and duplication, the store converges to the source.

Hypothesis draws a history of source states; an ingestor-like emitter turns it into snapshots
and deltas (stations and price lists), which are delivered shuffled, with duplicates. The final
normalised state and read-model documents must equal the last source state.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fuelhub_common.guard import GuardPolicy
from fuelhub_store.changeset import ChangeSetPart
from fuelhub_store.db import libpq_url
from fuelhub_store.service import handle
from fuelhub_store.testing import (
    change_set,
    price_list,
    price_list_deleted,
    station,
    station_deleted,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, tzinfo=UTC)
IDS = (1, 2, 3)
# Deletions must not be held here: the property is about ordering, not the guard.
POLICY = GuardPolicy(max_share=Decimal(1), confirmations=1)

StationContent = tuple[str, tuple[str, ...]]  # address, services
PriceContent = tuple[tuple[str, str], ...]  # (fuel, price)

stations_st = st.dictionaries(
    st.sampled_from(IDS),
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from([(), ("Мойка",), ("Мойка", "Кафе")]),
    ),
)
prices_st = st.dictionaries(
    st.sampled_from(IDS),
    st.dictionaries(
        st.sampled_from(["АИ-95", "ДТ"]), st.sampled_from(["50", "51.5"]), min_size=1
    ).map(lambda d: tuple(sorted(d.items()))),
)
history_st = st.lists(
    st.tuples(stations_st, prices_st, st.booleans(), st.booleans()), min_size=2, max_size=6
)


def emit(history: list[Any]) -> list[ChangeSetPart]:
    """Turn source states into the change sets an ingestor would publish, in order."""
    events: list[ChangeSetPart] = []
    prev_s: dict[int, StationContent] = {}
    prev_p: dict[int, PriceContent] = {}
    for step, (stations, prices, s_snapshot, p_snapshot) in enumerate(history):
        at = T0 + timedelta(hours=step)
        s_snap = step == 0 or s_snapshot
        p_snap = step == 0 or p_snapshot
        s_changes: list[Any] = [
            station(i, at, address=a, services=sv)
            for i, (a, sv) in sorted(stations.items())
            if s_snap or prev_s.get(i) != (a, sv)
        ]
        if not s_snap:
            s_changes += [station_deleted(i, at) for i in sorted(set(prev_s) - set(stations))]
        p_changes: list[Any] = [
            price_list(i, at, [(f, p, "RUB") for f, p in pl])
            for i, pl in sorted(prices.items())
            if p_snap or prev_p.get(i) != pl
        ]
        if not p_snap:
            p_changes += [price_list_deleted(i, at) for i in sorted(set(prev_p) - set(prices))]
        if s_changes or s_snap:
            events += change_set(s_changes, at, snapshot=s_snap, parts=2 if step % 2 else 1)
        if p_changes or p_snap:
            events += change_set(p_changes, at, prices=True, snapshot=p_snap)
        prev_s, prev_p = stations, prices
    return events


async def run(url: str, deliveries: list[ChangeSetPart]) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(libpq_url(url)) as conn:
        await conn.execute(
            "TRUNCATE store.stations, store.station_services, store.services, store.fuel_types,"
            " store.price_lists, store.current_prices, store.price_history,"
            " store.station_doc_heads, store.station_doc_fuels, store.outbox, store.inbox,"
            " store.change_set_parts, store.snapshot_watermarks, store.absences,"
            " store.snapshot_kept RESTART IDENTITY"
        )
        await conn.commit()
        for part in deliveries:
            await handle(conn, part, part.model_dump_json(), POLICY)
        cur = await conn.execute(
            "SELECT id, address, services FROM store.stations WHERE NOT deleted"
        )
        stations = {r[0]: (r[1], tuple(r[2])) for r in await cur.fetchall()}
        cur = await conn.execute(
            "SELECT cp.station_id, f.name, trim_scale(cp.price)::text FROM store.current_prices cp"
            " JOIN store.fuel_types f ON f.id = cp.fuel_type_id ORDER BY 1, 2"
        )
        prices: dict[int, list[tuple[str, str]]] = {}
        for sid, fuel, price in await cur.fetchall():
            prices.setdefault(sid, []).append((fuel, price))
        cur = await conn.execute(
            "SELECT station_id, doc_v1 FROM store.station_docs WHERE NOT deleted"
        )
        docs = {r[0]: json.loads(r[1]) for r in await cur.fetchall()}
        cur = await conn.execute("SELECT count(*) FROM store.change_set_parts")
        staged = (await cur.fetchone() or (0,))[0]
        # The hot tables carry no foreign keys (migration 0004): the apply must keep them whole.
        cur = await conn.execute(ORPHANS)
        orphans = (await cur.fetchone() or (0,))[0]
    return {
        "stations": stations,
        "prices": prices,
        "docs": docs,
        "staged": staged,
        "orphans": orphans,
    }


ORPHANS = """
SELECT (SELECT count(*) FROM store.current_prices cp
        WHERE NOT EXISTS (SELECT 1 FROM store.fuel_types f WHERE f.id = cp.fuel_type_id))
     + (SELECT count(*) FROM store.station_services ss
        WHERE NOT EXISTS (SELECT 1 FROM store.services sv WHERE sv.id = ss.service_id)
           OR NOT EXISTS (SELECT 1 FROM store.stations st
                          WHERE st.id = ss.station_id AND NOT st.deleted))
"""


@pytest.mark.timeout(240)
def test_any_delivery_order_converges_to_the_source(store_db_url: str) -> None:
    @settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        # Shrinking replays against Postgres for minutes: report the failing example as drawn.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    @given(history=history_st, data=st.data())
    def check(history: list[Any], data: st.DataObject) -> None:
        events = emit(history)
        extra = data.draw(st.lists(st.sampled_from(events), max_size=3), label="duplicates")
        deliveries = data.draw(st.permutations(events + extra), label="delivery order")
        got = asyncio.run(run(store_db_url, deliveries))
        stations, prices = history[-1][0], history[-1][1]
        assert got["stations"] == {i: (a, sv) for i, (a, sv) in stations.items()}
        assert got["prices"] == {i: list(pl) for i, pl in prices.items()}
        assert got["staged"] == 0
        assert got["orphans"] == 0
        expected_docs = {
            i: {
                "address": a,
                "services": list(sv),
                "fuels": [(f, float(p)) for f, p in prices.get(i, ())],
            }
            for i, (a, sv) in stations.items()
        }
        assert {
            i: {
                "address": d["address"],
                "services": [s["name"] for s in d["services"]],
                "fuels": sorted((f["fuel_type"]["name"], f["price"]) for f in d["fuels"]),
            }
            for i, d in got["docs"].items()
        } == expected_docs

    check()


def test_emitter_sanity(store_db_url: str) -> None:
    """The emitter itself: in order, a two-step history lands as its last state."""
    history = [
        ({1: ("a", ())}, {1: (("ДТ", "50"),)}, True, True),
        ({2: ("b", ())}, {}, False, False),
    ]
    got = asyncio.run(run(store_db_url, emit(history)))
    assert got["stations"] == {2: ("b", ())}
    assert got["prices"] == {}
