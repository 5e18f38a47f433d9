"""Delta sync (tombstones, out-of-order commits), keyset walks under change, price history and
freshness, against a store-built read model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fuelhub_api.testing import Api, deliver, load_sample, t
from fuelhub_store.testing import change_set, price_list, station, station_deleted

pytestmark = pytest.mark.integration


async def page(api: Api, url: str, **params: Any) -> dict[str, Any]:
    response = await api.get(url, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def sync_all(api: Api, cursor: str, limit: int = 100) -> tuple[list[dict[str, Any]], str]:
    """Follow a delta sync to its end; return every result and the final cursor."""
    results: list[dict[str, Any]] = []
    body = await page(api, "/api/v2/fuel-stations", since=cursor, limit=limit)
    results += body["results"]
    while body["next"]:
        body = await page(api, body["next"])
        results += body["results"]
    return results, body["sync"]


async def test_delta_sync_returns_changes_and_tombstones(api: Api) -> None:
    await load_sample(api)
    start = (await page(api, "/api/v2/fuel-stations"))["sync"]
    await deliver(
        api.database_url,
        change_set([price_list(2, t(10), [("АИ-95", "52.00", "RUB")])], t(10), prices=True),
    )
    await deliver(
        api.database_url,
        change_set([station_deleted(3, t(11)), station(6, t(11), number=60)], t(11)),
    )
    await api.synced()
    for limit in (100, 1):  # in one page, and walked one change per page
        results, cursor = await sync_all(api, start, limit)
        by_id = {r["id"]: r for r in results}
        assert set(by_id) == {2, 3, 6}
        assert by_id[3] == {"id": 3, "deleted": True}
        assert by_id[2]["fuels"][0]["price"] == 52
        assert "deleted" not in by_id[6]
        nothing, same = await sync_all(api, cursor)
        assert nothing == []
        assert same == cursor
    detail = await api.get("/api/v2/fuel-stations/3")
    assert detail.status_code == 404


async def test_updated_since_includes_tombstones(api: Api) -> None:
    await load_sample(api)
    cut = datetime.now(UTC)
    await deliver(api.database_url, change_set([station_deleted(4, t(20))], t(20)))
    await api.synced()
    body = await page(api, "/api/v2/fuel-stations", updated_since=cut.isoformat())
    assert body["results"] == [{"id": 4, "deleted": True}]


FEED_LOCK = 73110


async def _commit_change(conn: psycopg.AsyncConnection[Any], station_id: int, *, lock: bool) -> int:
    """What the store's publish step does for one station: under the feed lock, take the next
    position, point the station's document at it, write the outbox row, NOTIFY."""
    if lock:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
    cur = await conn.execute("SELECT nextval('store.outbox_seq')")
    row = await cur.fetchone()
    assert row is not None
    seq = int(row[0])
    await conn.execute(
        "UPDATE store.station_doc_fuels SET seq = %s, updated_at = now() WHERE station_id = %s",
        (seq, station_id),
    )
    await conn.execute(
        "INSERT INTO store.outbox (seq, kind, entity_id, op, payload, event_time, committed_at)"
        " VALUES (%s, 'station', %s, 'upsert', '{}', now(), now())",
        (seq, station_id),
    )
    await conn.execute("SELECT pg_notify('fuelhub_applied', %s)", (str(seq),))
    return seq


async def _interleave(api: Api, *, lock: bool) -> set[int]:
    """T1 begins first and commits last; a client syncs between the two commits and after.
    Returns the station ids the client's delta syncs saw."""
    start = (await page(api, "/api/v2/fuel-stations"))["sync"]
    async with (
        await psycopg.AsyncConnection.connect(api.database_url) as t1,
        await psycopg.AsyncConnection.connect(api.database_url) as t2,
    ):
        await t1.execute("BEGIN")
        if not lock:
            # Without the rule, T1 takes its position early and commits late.
            t1_seq = await _commit_change(t1, 1, lock=False)
        await t2.execute("BEGIN")
        await _commit_change(t2, 2, lock=lock)
        await t2.execute("COMMIT")  # T2 commits first
        await api.synced()
        seen, cursor = await sync_all(api, start)
        if lock:
            t1_task = asyncio.create_task(_commit_change(t1, 1, lock=True))
            t1_seq = await t1_task
        await t1.execute("COMMIT")
    assert t1_seq > 0
    await api.synced()
    later, _ = await sync_all(api, cursor)
    return {r["id"] for r in seen} | {r["id"] for r in later}


async def test_delta_sync_misses_nothing_when_transactions_commit_out_of_order(api: Api) -> None:
    await load_sample(api)
    assert await _interleave(api, lock=True) == {1, 2}


async def test_out_of_order_control_without_the_feed_lock_a_change_is_missed(api: Api) -> None:
    """The negative control: positions taken outside the store's lock rule lose a change, so the
    test above would fail if the API's cursor were not safe only thanks to that rule."""
    await load_sample(api)
    assert await _interleave(api, lock=False) == {2}


async def test_keyset_walk_has_no_gaps_or_duplicates_while_data_changes(api: Api) -> None:
    stable = {i: ("55.70", "37.60", i, ()) for i in range(10, 40)}
    from fuelhub_api.testing import catalog_parts

    await deliver(api.database_url, catalog_parts(t(0), stable))
    await api.synced()
    seen: list[int] = []
    url: str | None = "/api/v2/fuel-stations?limit=3"
    step = 0
    while url:
        body = await page(api, url)
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
        step += 1
        # between pages: new stations before and after the cursor, deletions of others, prices
        await deliver(
            api.database_url,
            change_set(
                [station(1000 + step, t(step), number=1), station(step, t(step), number=2)],
                t(step),
            ),
        )
        await deliver(
            api.database_url,
            change_set(
                [price_list(10 + step, t(step), [("ДТ", f"6{step}.5", "RUB")])],
                t(step),
                prices=True,
            ),
        )
        await api.synced()
    assert len(seen) == len(set(seen)), "duplicates"
    assert set(stable) <= set(seen), "gaps"
    assert seen == sorted(seen)


async def test_price_history(api: Api) -> None:
    await load_sample(api)
    await deliver(
        api.database_url,
        change_set([price_list(1, t(30), [("АИ-95", "55.00", "RUB")])], t(30), prices=True),
    )
    await deliver(
        api.database_url,
        change_set([price_list(1, t(40), [("АИ-95", "55.20", "RUB")])], t(40), prices=True),
    )
    await api.synced()
    body = await page(api, "/api/v2/fuel-stations/1/price-history", fuel="АИ-95")
    assert [(r["price"], r["currency"]) for r in body["results"]] == [
        (54.9, "RUB"),
        (55, "RUB"),
        (55.2, "RUB"),
    ]
    assert '"price":55.2' in (await api.get("/api/v2/fuel-stations/1/price-history")).text
    everything = await page(api, "/api/v2/fuel-stations/1/price-history")
    fuels = {r["fuel_type"] for r in everything["results"]}
    assert fuels == {"АИ-95", "ДТ"}
    removed = [r for r in everything["results"] if r["fuel_type"] == "ДТ" and r["price"] is None]
    assert removed, "a fuel dropped from the list is recorded with a null price"
    since = await page(
        api, "/api/v2/fuel-stations/1/price-history", fuel="АИ-95", since=t(35).isoformat()
    )
    assert [r["price"] for r in since["results"]] == [55.2]
    walked: list[Any] = []
    url: str | None = "/api/v2/fuel-stations/1/price-history?limit=1"
    while url:
        b = await page(api, url)
        walked += b["results"]
        url = b["next"]
    assert walked == everything["results"]
    assert (await api.get("/api/v2/fuel-stations/77/price-history")).status_code == 404
    bad = await api.get("/api/v2/fuel-stations/1/price-history?since=soon")
    assert bad.status_code == 400
    bad = await api.get("/api/v2/fuel-stations/1/price-history?after=x")
    assert bad.status_code == 400


async def test_freshness_reports_each_sources_last_success(api: Api) -> None:
    await load_sample(api)
    before = await api.get("/api/v2/fuel-stations")
    assert before.json()["data_as_of"] == {}
    async with await psycopg.AsyncConnection.connect(api.database_url) as conn:
        await conn.execute(
            "INSERT INTO store.source_status (source, last_poll_at, last_success_at)"
            " VALUES ('source1', '2026-03-01T07:00:00Z', '2026-03-01T06:59:58.5Z'),"
            " ('source2', '2026-03-01T07:00:00Z', NULL)"
        )
        await conn.commit()
    for _ in range(50):
        after = await api.get(
            "/api/v2/fuel-stations", headers={"If-None-Match": before.headers["etag"]}
        )
        if after.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert after.status_code == 200, "freshness changes must change the ETag"
    assert after.json()["data_as_of"] == {
        "source1": "2026-03-01T06:59:58.500000Z",
        "source2": None,
    }
    for url in (
        "/api/v2/fuel-stations/1",
        "/api/v2/fuel-types",
        "/api/v2/services",
        "/api/v2/fuel-stations/1/price-history",
    ):
        assert (await page(api, url))["data_as_of"]["source1"].startswith("2026-03-01T06:59:58")


async def test_cursors_older_than_the_retained_feed_are_410_and_current_ones_survive(
    api: Api,
) -> None:
    await load_sample(api)
    current = (await page(api, "/api/v2/fuel-stations"))["sync"]
    assert current == "10"
    async with await psycopg.AsyncConnection.connect(api.database_url) as conn:
        # what the store's retention does to old feed rows
        await conn.execute("DELETE FROM store.outbox WHERE seq <= 6")
        await conn.commit()
    old = await api.get("/api/v2/fuel-stations?since=3")
    assert old.status_code == 410
    assert "older than the retained" in old.json()["detail"]
    assert (await api.get("/api/v2/fuel-stations?since=6")).status_code == 200  # nothing lost
    async with await psycopg.AsyncConnection.connect(api.database_url) as conn:
        await conn.execute("DELETE FROM store.outbox")
        await conn.commit()
    # the version does not go backwards when the whole feed has been pruned
    same = await api.get(f"/api/v2/fuel-stations?since={current}")
    assert same.status_code == 200
    assert same.json()["sync"] == current
    assert (await api.get("/api/v2/fuel-stations?since=9")).status_code == 410
