"""Applying change sets to the real Postgres: rules, atomicity, idempotence, guard, parts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fuelhub_common.events import (
    AppliedDeletion,
    AppliedPriceList,
    AppliedStationState,
    Source,
    StationsChanged,
)
from fuelhub_common.guard import GuardPolicy
from fuelhub_common.publishing import encode_change_set
from fuelhub_store.approvals import (
    approve_held_deletions,
    list_held_deletions,
    update_catalog_entry,
)
from fuelhub_store.changeset import ChangeSetPart
from fuelhub_store.codec import decode
from fuelhub_store.service import Handled, Status, handle
from fuelhub_store.testing import (
    change_set,
    price_list,
    price_list_deleted,
    station,
    station_deleted,
)
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
POLICY = GuardPolicy()


def t(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


async def deliver(
    pool: AsyncConnectionPool, parts: Sequence[ChangeSetPart], **kwargs: Any
) -> list[Handled]:
    out = []
    async with pool.connection() as conn:
        for part in parts:
            out.append(await handle(conn, part, part.model_dump_json(), POLICY, **kwargs))
    return out


async def rows(pool: AsyncConnectionPool, query: str, *params: Any) -> list[tuple[Any, ...]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params or None)
        return await cur.fetchall()


DATA_TABLES = (
    "stations", "station_services", "services", "fuel_types", "price_lists", "current_prices",
    "price_history", "station_doc_heads", "station_doc_fuels", "outbox", "inbox", "absences", "snapshot_watermarks",
    "change_set_parts",
)  # fmt: skip


async def dump(pool: AsyncConnectionPool) -> dict[str, list[str]]:
    """Every row of every store table, as sorted text (for before/after comparisons)."""
    out = {}
    for table in DATA_TABLES:
        got = await rows(pool, f"SELECT t::text FROM store.{table} AS t")
        out[table] = sorted(r[0] for r in got)
    return out


async def test_outbox_payloads_are_the_applied_states_in_the_contract_shape(
    store_pool: AsyncConnectionPool,
) -> None:
    """Payloads are rendered by concatenation (text, migration 0006): every one must still be
    valid JSON in the applied feed's shape, NULLs included, strings escaped, decimals exact."""
    odd = 'ул. "Кавычки" \\ и\tтаб'
    await deliver(
        store_pool,
        change_set(
            [
                station(
                    1,
                    t(0),
                    address=odd,
                    services=("Мойка", 'Ш"ины'),
                    image_urls=("https://i/1.jpg",),
                    latitude="55.100000",
                ),
                station(2, t(0), address=None, services=()),
            ],
            t(0),
        ),
    )
    await deliver(
        store_pool,
        change_set(
            [price_list(1, t(0), [("АИ-95", "54.90", "RUB"), ('Газ "Б"', "0.0001", "KZT")])],
            t(0),
            prices=True,
        ),
    )
    await deliver(store_pool, change_set([station_deleted(2, t(1))], t(1)))
    await deliver(store_pool, change_set([price_list_deleted(1, t(1))], t(1), prices=True))
    got = await rows(
        store_pool, "SELECT kind, op, entity_id, payload FROM store.outbox ORDER BY seq"
    )
    payloads = [(k, o, e, json.loads(p)) for k, o, e, p in got]
    fuel_ids = dict(await rows(store_pool, "SELECT name, id FROM store.fuel_types"))
    assert payloads == [
        ("station", "upsert", 1, {
            "id": 1, "latitude": 55.1, "longitude": 37.61, "number": 1, "address": odd,
            "image_urls": ["https://i/1.jpg"], "services": ["Мойка", 'Ш"ины'],
            "version": "2026-03-01T06:00:00+00:00"}),
        ("station", "upsert", 2, {
            "id": 2, "latitude": 55.75, "longitude": 37.61, "number": 2, "address": None,
            "image_urls": [], "services": [], "version": "2026-03-01T06:00:00+00:00"}),
        ("prices", "upsert", 1, {
            "station_id": 1, "version": "2026-03-01T06:00:00+00:00", "prices": sorted([
                {"fuel": "АИ-95", "fuel_type_id": fuel_ids["АИ-95"], "price": 54.9,
                 "currency": "RUB"},
                {"fuel": 'Газ "Б"', "fuel_type_id": fuel_ids['Газ "Б"'], "price": 0.0001,
                 "currency": "KZT"},
            ], key=lambda p: p["fuel_type_id"])}),
        ("station", "delete", 2, {"id": 2, "version": "2026-03-01T07:00:00+00:00"}),
        ("prices", "delete", 1, {
            "station_id": 1, "version": "2026-03-01T07:00:00+00:00", "prices": []}),
    ]  # fmt: skip
    # The feed's own models accept them (what a subscriber validates against).
    for kind, _, _, payload in payloads:
        if kind == "prices":
            AppliedPriceList.model_validate(payload)
        else:
            TypeAdapter(AppliedStationState | AppliedDeletion).validate_python(payload)


async def test_first_sync_builds_documents_outbox_and_history(
    store_pool: AsyncConnectionPool,
) -> None:
    await deliver(
        store_pool,
        change_set(
            [
                station(1, t(0), services=("Мойка", "Пылесос"), image_urls=("https://i/1.jpg",)),
                station(2, t(0), address=None, services=()),
            ],
            t(0),
            snapshot=True,
        ),
    )
    await deliver(
        store_pool,
        change_set(
            [
                price_list(1, t(0), [("АИ-95", "54.90", "RUB"), ("ДТ", "61.5", "KZT")]),
                price_list(7, t(0), [("АИ-95", "100", "RSD")]),
            ],
            t(0),
            prices=True,
            snapshot=True,
        ),
    )
    docs = dict(await rows(store_pool, "SELECT station_id, doc_v1 FROM store.station_docs"))
    assert set(docs) == {1, 2}  # station 7 has prices but no catalog entry yet
    one = json.loads(docs[1])
    assert list(one) == [
        "id", "coordinate_x", "coordinate_y", "number", "address", "image_urls", "fuels",
        "services",
    ]  # fmt: skip
    assert one["image_urls"] == ["https://i/1.jpg"]
    assert [s["name"] for s in one["services"]] == ["Мойка", "Пылесос"]
    # v1 carries only the seed's currencies; exact decimals, rendered without trailing zeros.
    assert [(f["fuel_type"]["name"], f["price"], f["currency"]) for f in one["fuels"]] == [
        ("АИ-95", 54.9, "RUB")
    ]
    assert '"price":54.9,' in docs[1]
    v2 = json.loads((await rows(store_pool, "SELECT doc_v2 FROM store.station_docs "
                                "WHERE station_id = 1"))[0][0])  # fmt: skip
    assert {f["currency"] for f in v2["fuels"]} == {"RUB", "KZT"}
    assert "updated_at" in v2
    assert all("updated_at" in f for f in v2["fuels"])
    assert json.loads(docs[2])["address"] is None
    # The outbox has one row per effective change, seq strictly increasing.
    outbox = await rows(
        store_pool, "SELECT seq, kind, entity_id, op FROM store.outbox ORDER BY seq"
    )
    assert [(k, e, o) for _, k, e, o in outbox] == [
        ("station", 1, "upsert"), ("station", 2, "upsert"),
        ("prices", 1, "upsert"), ("prices", 7, "upsert"),
    ]  # fmt: skip
    seqs = dict(await rows(store_pool, "SELECT station_id, seq FROM store.station_docs"))
    assert seqs == {1: 3, 2: 2}
    history = await rows(store_pool, "SELECT count(*) FROM store.price_history")
    assert history == [(3,)]

    # The station of the orphan prices arrives: its document shows them.
    await deliver(store_pool, change_set([station(7, t(1))], t(1)))
    seven = await rows(store_pool, "SELECT doc_v1 FROM store.station_docs WHERE station_id = 7")
    assert json.loads(seven[0][0])["fuels"][0]["price"] == 100


async def test_no_change_snapshot_writes_no_data_row(store_pool: AsyncConnectionPool) -> None:
    stations = [station(i, t(0), services=("Мойка",)) for i in range(1, 51)]
    lists = [price_list(i, t(0), [("АИ-95", f"5{i % 10}.1", "RUB")]) for i in range(1, 51)]
    await deliver(store_pool, change_set(stations, t(0), snapshot=True))
    await deliver(store_pool, change_set(lists, t(0), prices=True, snapshot=True))
    before = await dump(store_pool)

    same_stations = [station(i, t(5), services=("Мойка",)) for i in range(1, 51)]
    same_lists = [price_list(i, t(5), [("АИ-95", f"5{i % 10}.1", "RUB")]) for i in range(1, 51)]
    results = await deliver(store_pool, change_set(same_stations, t(5), snapshot=True))
    results += await deliver(store_pool, change_set(same_lists, t(5), prices=True, snapshot=True))
    assert [r.result.entities_changed for r in results if r.result] == [0, 0]
    after = await dump(store_pool)
    for table in DATA_TABLES:
        if table in ("inbox", "snapshot_watermarks"):  # bookkeeping only
            continue
        assert after[table] == before[table], table


async def test_redelivery_is_a_no_op(store_pool: AsyncConnectionPool) -> None:
    parts = change_set([price_list(1, t(0), [("АИ-95", "50", "RUB")])], t(0), prices=True)
    first = await deliver(store_pool, parts)
    before = await dump(store_pool)
    again = await deliver(store_pool, parts)
    assert [h.status for h in first] == [Status.APPLIED]
    assert [h.status for h in again] == [Status.DUPLICATE]
    assert await dump(store_pool) == before


@pytest.mark.parametrize("step", ["staged", "entities", "reconciled", "published"])
async def test_failure_mid_apply_leaves_nothing(store_pool: AsyncConnectionPool, step: str) -> None:
    await deliver(store_pool, change_set([station(1, t(0)), station(2, t(0))], t(0), snapshot=True))
    before = await dump(store_pool)

    async def explode(name: str) -> None:
        if name == step:
            raise RuntimeError(f"injected failure after {name}")

    # Station 2 is absent from the snapshot: every step (upsert, guard, read model) has work.
    parts = change_set([station(1, t(1), address="new"), station(3, t(1))], t(1), snapshot=True)
    with pytest.raises(RuntimeError, match="injected"):
        await deliver(store_pool, parts, checkpoint=explode)
    assert await dump(store_pool) == before
    # The same message then applies normally (its id did not stay in the inbox).
    assert [h.status for h in await deliver(store_pool, parts)] == [Status.APPLIED]


async def test_versions_newer_wins_and_tombstones_hold(store_pool: AsyncConnectionPool) -> None:
    await deliver(store_pool, change_set([station(1, t(2), address="two")], t(2)))
    await deliver(store_pool, change_set([station(1, t(1), address="one")], t(1)))  # late, older
    assert await rows(store_pool, "SELECT address FROM store.stations") == [("two",)]
    await deliver(store_pool, change_set([station_deleted(1, t(3))], t(3)))
    # A late upsert older than the tombstone does not bring the station back.
    await deliver(store_pool, change_set([station(1, t(2))], t(2)))
    got = await rows(store_pool, "SELECT deleted, doc_v1 IS NULL FROM store.station_docs")
    assert got == [(True, True)]
    outbox = await rows(store_pool, "SELECT kind, op FROM store.outbox ORDER BY seq")
    assert outbox == [("station", "upsert"), ("station", "delete")]


async def test_price_changes_and_removals_make_history(store_pool: AsyncConnectionPool) -> None:
    await deliver(store_pool, change_set([station(1, t(0))], t(0)))
    lists = [
        price_list(1, t(0), [("АИ-95", "50", "RUB"), ("АИ-98", "60", "RUB")]),
        price_list(1, t(1), [("АИ-95", "51", "RUB"), ("АИ-98", "60", "RUB")]),
        price_list(1, t(2), [("АИ-95", "51", "RUB")]),
    ]
    for change in lists:
        await deliver(store_pool, change_set([change], change.version, prices=True))
    await deliver(store_pool, change_set([price_list_deleted(1, t(3))], t(3), prices=True))
    history = await rows(
        store_pool,
        "SELECT f.name, h.price::text, h.observed_at FROM store.price_history h"
        " JOIN store.fuel_types f ON f.id = h.fuel_type_id ORDER BY h.id",
    )
    assert history == [
        ("АИ-95", "50.0000", t(0)), ("АИ-98", "60.0000", t(0)),
        ("АИ-95", "51.0000", t(1)),
        ("АИ-98", None, t(2)),
        ("АИ-95", None, t(3)),
    ]  # fmt: skip
    doc = await rows(store_pool, "SELECT doc_v1, fuel_type_ids FROM store.station_docs")
    assert json.loads(doc[0][0])["fuels"] == []
    assert doc[0][1] == []


async def test_parts_apply_once_the_last_arrives(store_pool: AsyncConnectionPool) -> None:
    parts = change_set([station(i, t(0)) for i in range(1, 10)], t(0), parts=3, snapshot=True)
    statuses = [h.status for h in await deliver(store_pool, [parts[2], parts[0], parts[2]])]
    assert statuses == [Status.STAGED, Status.STAGED, Status.DUPLICATE]
    assert await rows(store_pool, "SELECT count(*) FROM store.stations") == [(0,)]
    assert [h.status for h in await deliver(store_pool, [parts[1]])] == [Status.APPLIED]
    assert await rows(store_pool, "SELECT count(*) FROM store.stations") == [(9,)]
    assert await rows(store_pool, "SELECT count(*) FROM store.change_set_parts") == [(0,)]
    assert [h.status for h in await deliver(store_pool, parts)] == [Status.DUPLICATE] * 3


async def test_a_part_staged_without_a_header_is_read_from_its_body(
    store_pool: AsyncConnectionPool,
) -> None:
    """Parts staged by a store older than migration 0008 carry no header: the set still applies,
    with every part's rows and the set's kept ids."""
    parts = change_set([price_list(i, t(0), [("АИ-95", f"5{i}.00", "RUB")]) for i in range(1, 7)],
                       t(0), parts=3, prices=True, snapshot=True)  # fmt: skip
    assert [h.status for h in await deliver(store_pool, parts[:2])] == [Status.STAGED] * 2
    assert await rows(store_pool, "SELECT count(header) FROM store.change_set_parts") == [(2,)]
    async with store_pool.connection() as conn:
        await conn.execute("UPDATE store.change_set_parts SET header = NULL WHERE part = 1")
    assert [h.status for h in await deliver(store_pool, [parts[2]])] == [Status.APPLIED]
    prices = await rows(store_pool, "SELECT station_id, price::text FROM store.current_prices"
                        " ORDER BY station_id")  # fmt: skip
    assert prices == [(i, f"5{i}.0000") for i in range(1, 7)]
    assert await rows(store_pool, "SELECT count(*) FROM store.change_set_parts") == [(0,)]


async def test_guard_holds_mass_absence_until_confirmed_or_approved(
    store_pool: AsyncConnectionPool,
) -> None:
    ids = range(1, 11)
    await deliver(store_pool, change_set([station(i, t(0)) for i in ids], t(0), snapshot=True))
    # One station gone (10%: ordinary churn): deleted at once.
    await deliver(store_pool, change_set([station(i, t(1)) for i in ids if i != 10], t(1),
                                         snapshot=True))  # fmt: skip
    alive = await rows(store_pool, "SELECT id FROM store.stations WHERE NOT deleted ORDER BY id")
    assert [r[0] for r in alive] == list(range(1, 10))
    # Five of nine gone (mass): held, not deleted.
    for hour in (2, 3):
        await deliver(store_pool, change_set([station(i, t(hour)) for i in range(1, 5)], t(hour),
                                             snapshot=True))  # fmt: skip
        alive = await rows(store_pool, "SELECT count(*) FROM store.stations WHERE NOT deleted")
        assert alive == [(9,)]
    async with store_pool.connection() as conn:
        held = await list_held_deletions(conn)
        assert {(h.entity_id, h.count) for h in held} == {(i, 2) for i in range(5, 10)}
        # A person approves two of them: deleted now, the others stay held.
        assert await approve_held_deletions(
            conn, kind="stations", entity_ids=[5, 6], approved_by="admin@test"
        ) == 2  # fmt: skip
    deleted = await rows(store_pool, "SELECT station_id FROM store.station_docs WHERE deleted")
    assert sorted(r[0] for r in deleted) == [5, 6, 10]
    # The third consecutive absence confirms the rest.
    await deliver(store_pool, change_set([station(i, t(4)) for i in range(1, 5)], t(4),
                                         snapshot=True))  # fmt: skip
    alive = await rows(store_pool, "SELECT id FROM store.stations WHERE NOT deleted ORDER BY id")
    assert [r[0] for r in alive] == [1, 2, 3, 4]
    assert await rows(store_pool, "SELECT count(*) FROM store.absences") == [(0,)]


async def test_kept_ids_are_neither_updated_nor_deleted(store_pool: AsyncConnectionPool) -> None:
    await deliver(store_pool, change_set([station(i, t(0)) for i in (1, 2)], t(0), snapshot=True))
    # Station 2's record was rejected upstream: the snapshot lists it as kept.
    await deliver(store_pool, change_set([station(1, t(1))], t(1), snapshot=True, kept_ids=[2]))
    assert await rows(store_pool, "SELECT count(*) FROM store.stations WHERE NOT deleted") == [(2,)]
    # A delta older than the snapshot but newer than station 2's state still applies to it.
    await deliver(store_pool, change_set([station(2, t(0) + timedelta(minutes=30),
                                                  address="fixed")], t(0)))  # fmt: skip
    assert await rows(store_pool, "SELECT address FROM store.stations WHERE id = 2") == [("fixed",)]


async def test_catalog_icon_rewrites_documents(store_pool: AsyncConnectionPool) -> None:
    await deliver(store_pool, change_set([station(1, t(0), services=("Мойка",))], t(0)))
    await deliver(store_pool, change_set([price_list(1, t(0), [("АИ-95", "50", "RUB")])], t(0),
                                         prices=True))  # fmt: skip
    (seq_before,) = (await rows(store_pool, "SELECT seq FROM store.station_docs"))[0]
    async with store_pool.connection() as conn:
        fuel_id = (await (await conn.execute("SELECT id FROM store.fuel_types")).fetchone())[0]  # type: ignore[index]
        published = await update_catalog_entry(
            conn, catalog="fuel_types", entry_id=fuel_id, display_name="AI-95",
            icon_path="/media/icons/abc-128.png",
        )  # fmt: skip
    assert published.docs_written == 1
    doc, seq = (await rows(store_pool, "SELECT doc_v1, seq FROM store.station_docs"))[0]
    assert '"fuel_type":{"id":1,"name":"AI-95","icon":"/media/icons/abc-128.png"}' in doc
    assert seq > seq_before


async def test_late_delta_older_than_an_unchanged_snapshot_is_ignored(
    store_pool: AsyncConnectionPool,
) -> None:
    """Source: a@0, b@1 (delta), a@2 (snapshot). Delivered 0, 2, 1: the snapshot wrote nothing
    (a equals what is stored) but still makes the delta at 1 stale."""
    s0 = change_set([station(1, t(0), address="a")], t(0), snapshot=True)
    d1 = change_set([station(1, t(1), address="b")], t(1))
    s2 = change_set([station(1, t(2), address="a")], t(2), snapshot=True)
    p0 = change_set([price_list(1, t(0), [("ДТ", "50", "RUB")])], t(0), prices=True, snapshot=True)
    q1 = change_set([price_list(1, t(1), [("ДТ", "51", "RUB")])], t(1), prices=True)
    p2 = change_set([price_list(1, t(2), [("ДТ", "50", "RUB")])], t(2), prices=True, snapshot=True)
    for parts in (s0, p0, s2, p2, d1, q1):
        await deliver(store_pool, parts)
    assert await rows(store_pool, "SELECT address FROM store.stations") == [("a",)]
    assert await rows(store_pool, "SELECT price::text FROM store.current_prices") == [("50.0000",)]


async def test_late_delta_cannot_undo_a_newer_delta_with_equal_content(
    store_pool: AsyncConnectionPool,
) -> None:
    """Source: a@0, b@1, a@2, all deltas. Delivered 0, 2, 1: the delta at 2 carries what is
    stored, yet must still record its version so the delta at 1 stays stale."""
    d = [change_set([station(1, t(h), address=a)], t(h)) for h, a in ((0, "a"), (1, "b"), (2, "a"))]
    q = [
        change_set([price_list(1, t(h), [("ДТ", p, "RUB")])], t(h), prices=True)
        for h, p in ((0, "50"), (1, "51"), (2, "50"))
    ]
    for parts in (d[0], q[0], d[2], q[2], d[1], q[1]):
        await deliver(store_pool, parts)
    assert await rows(store_pool, "SELECT address FROM store.stations") == [("a",)]
    assert await rows(store_pool, "SELECT price::text FROM store.current_prices") == [("50.0000",)]


async def test_parts_encoded_by_the_ingestors_publishing_helper_apply(
    store_pool: AsyncConnectionPool,
) -> None:
    """The bodies the ingestors really publish (spliced parts, kept ids in the last part)."""
    changes = [station(i, t(0)).model_dump_json().encode() for i in range(1, 41)]
    encoded = encode_change_set(
        model=StationsChanged, source=Source.SOURCE1, change_set_id=uuid.uuid4(),
        observed_at=t(0), snapshot=True, changes=changes, kept_ids=[99], max_part_bytes=2000,
    )  # fmt: skip
    assert len(encoded) > 3
    statuses = []
    async with store_pool.connection() as conn:
        for part in reversed(encoded):  # last part first: kept ids must survive staging
            event = decode(part.body)
            assert str(event.event_id) == str(part.event_id)
            statuses.append((await handle(conn, event, part.body, POLICY)).status)
    assert statuses == [Status.STAGED] * (len(encoded) - 1) + [Status.APPLIED]
    assert await rows(store_pool, "SELECT count(*) FROM store.station_docs") == [(40,)]
    assert await rows(store_pool, "SELECT entity_id FROM store.snapshot_kept") == [(99,)]


async def test_a_service_listed_twice_is_linked_once_at_its_first_position(
    store_pool: AsyncConnectionPool,
) -> None:
    # The ingestor de-duplicates names, but a publisher bug must not fail or double the link.
    await deliver(
        store_pool,
        change_set([station(1, t(0), services=("Мойка", "Пылесос", "Мойка"))], t(0)),
    )
    links = await rows(
        store_pool,
        "SELECT sv.name, ss.position FROM store.station_services AS ss"
        " JOIN store.services AS sv ON sv.id = ss.service_id ORDER BY ss.position",
    )
    assert links == [("Мойка", 1), ("Пылесос", 2)]
    (doc,) = (await rows(store_pool, "SELECT doc_v1 FROM store.station_docs"))[0]
    assert [s["name"] for s in json.loads(doc)["services"]] == ["Мойка", "Пылесос"]
