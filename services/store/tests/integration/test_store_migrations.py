"""Migrations that move data: what readers see is the same before and after, both ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from alembic import command
from fuelhub_store.db import alembic_config, libpq_url, migrate

pytestmark = pytest.mark.integration

BEFORE_SPLIT = "0006_outbox_text"
SPLIT = "0007_split_docs"
COLUMNS = (
    "station_id, seq, deleted, updated_at, latitude, longitude, number, fuel_type_ids,"
    " service_ids, doc_v1, doc_v2"
)
# Documents as the 0006 store wrote them. The address holds the boundary texts the split looks
# for, escaped as JSON escapes them; station 2 has no fuels and no services; 3 is a tombstone.
HEAD_1 = (
    '{"id":1,"coordinate_x":54.9,"coordinate_y":37.61,"number":7,'
    '"address":"Tverskaya 1,\\"fuels\\":[ ],\\"services\\":[","image_urls":["/a.png"]'
)
FUELS_V1 = (
    '{"price":52.3,"currency":"RUB","fuel_type":{"id":1,"name":"АИ-95","icon":null}},'
    '{"price":60,"currency":"RUB","fuel_type":{"id":2,"name":"ДТ","icon":"/i/2.png"}}'
)
FUELS_V2 = (
    '{"price":52.3,"currency":"RUB","fuel_type":{"id":1,"name":"АИ-95","icon":null},'
    '"updated_at":"2026-03-01T06:00:00+00:00"},'
    '{"price":60,"currency":"RUB","fuel_type":{"id":2,"name":"ДТ","icon":"/i/2.png"},'
    '"updated_at":"2026-03-01T06:00:00+00:00"},'
    '{"price":1.5,"currency":"GEL","fuel_type":{"id":3,"name":"Газ","icon":null},'
    '"updated_at":"2026-03-01T06:00:00+00:00"}'
)
SERVICES = '{"id":4,"name":"Мойка","icon":null},{"id":5,"name":"Пылесос","icon":null}'
HEAD_2 = '{"id":2,"coordinate_x":-1.5,"coordinate_y":0,"number":8,"address":null,"image_urls":[]'


def _read(url: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(f"SELECT {COLUMNS} FROM store.{table} ORDER BY station_id").fetchall()


def test_splitting_the_read_model_keeps_every_document_and_downgrades_back(
    postgres_database_factory: Callable[[], str],
) -> None:
    url = postgres_database_factory()
    migrate(url, BEFORE_SPLIT)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            "INSERT INTO store.station_docs (station_id, seq, deleted, updated_at, latitude,"
            " longitude, number, fuel_type_ids, service_ids, doc_v1, doc_v2)"
            " SELECT id, seq, deleted, at, lat, lon, num, fuels, services,"
            "   CASE WHEN NOT deleted THEN head || ',\"fuels\":[' || v1 || '],\"services\":['"
            "     || sv || ']}' END,"
            "   CASE WHEN NOT deleted THEN head || ',\"fuels\":[' || v2 || '],\"services\":['"
            "     || sv || '],\"updated_at\":' || to_json(at) || '}' END"
            " FROM (VALUES"
            "   (1, 40, false, timestamptz '2026-03-01 06:00:05+00', 54.9, 37.61, 7,"
            "    '{1,2,3}'::int[], '{4,5}'::int[], %(h1)s, %(v1)s, %(v2)s, %(sv)s),"
            "   (2, 41, false, timestamptz '2026-03-01 07:00:00.25+00', -1.5, 0, 8,"
            "    '{}', '{}', %(h2)s, '', '', ''),"
            "   (3, 42, true, timestamptz '2026-03-02 00:00:00+00', NULL, NULL, NULL,"
            "    '{}', '{}', NULL, NULL, NULL, NULL)"
            " ) AS d(id, seq, deleted, at, lat, lon, num, fuels, services, head, v1, v2, sv)",
            {"h1": HEAD_1, "v1": FUELS_V1, "v2": FUELS_V2, "sv": SERVICES, "h2": HEAD_2},
        )
    before = _read(url, "station_docs")
    assert before[0][9].count("fuels") == 2  # the address's escaped copy, and the real key

    migrate(url, SPLIT)
    assert _read(url, "station_docs") == before
    with psycopg.connect(libpq_url(url)) as conn:
        parts = conn.execute(
            "SELECT h.station_id, h.head, h.services, f.fuels_v1, f.fuels_v2"
            " FROM store.station_doc_heads h JOIN store.station_doc_fuels f USING (station_id)"
            " ORDER BY 1"
        ).fetchall()
    assert parts == [
        (1, HEAD_1, SERVICES, FUELS_V1, FUELS_V2),
        (2, HEAD_2, None, None, None),
        (3, None, None, None, None),
    ]

    command.downgrade(alembic_config(url), BEFORE_SPLIT)
    assert _read(url, "station_docs") == before
