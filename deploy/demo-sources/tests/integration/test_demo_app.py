"""The app over HTTP (in memory): contract shapes, conditional GET, control endpoints, faults."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fuelhub_demo_sources.app import create_app
from fuelhub_demo_sources.faults import KINDS_FOR
from fuelhub_demo_sources.testing import fast_settings

S1, S2 = "/fuel-stations", "/fuel-prices"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(fast_settings(stations=100))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as c:
        yield c


async def state(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/_control/state")
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def prices_by_id(r: httpx.Response) -> dict[int, Any]:
    return {p["id"]: p["fuel_prices"] for p in json.loads(r.content, parse_float=Decimal)}


async def test_demo_both_sources_serve_json_arrays_in_contract_shape(
    client: httpx.AsyncClient,
) -> None:
    stations = await client.get(S1)
    prices = await client.get(S2)
    for r in (stations, prices):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        assert isinstance(r.json(), list)
    body = stations.json()
    assert len(body) == 100
    assert body[0]["id"] == 1
    assert body[0]["coordinates"] == [55.797817, 49.130638]
    assert set(body[0]) == {
        "id",
        "coordinates",
        "number",
        "address",
        "image_urls",
        "additional_services",
    }
    assert prices_by_id(prices)[4][0] == {"name": "АИ-95", "price": 200, "currency": "RSD"}


async def test_demo_matching_etag_gets_304_until_the_data_changes(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get(S2)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = await client.get(S2, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert (await client.get(S2, headers={"If-Modified-Since": modified})).status_code == 304
    assert (await client.get(S2, headers={"If-None-Match": '"other"'})).status_code == 200
    # The catalog has its own validators: a price change leaves it unmodified.
    s1 = await client.get(S1)
    await client.post("/_control/prices/1", json=[{"name": "ДТ", "price": 61.5, "currency": "RUB"}])
    changed = await client.get(S2, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.headers["last-modified"] != modified
    assert (await client.get(S2, headers={"If-Modified-Since": modified})).status_code == 200
    s1_again = await client.get(S1, headers={"If-None-Match": s1.headers["etag"]})
    assert s1_again.status_code == 304


async def test_demo_conditional_get_can_be_switched_off(client: httpx.AsyncClient) -> None:
    etag = (await client.get(S1)).headers["etag"]
    await client.post("/_control/conditional", json={"enabled": False})
    r = await client.get(S1, headers={"If-None-Match": etag})
    assert r.status_code == 200
    assert "etag" not in r.headers
    assert "last-modified" not in r.headers


async def test_demo_set_and_delete_a_price_list(client: httpx.AsyncClient) -> None:
    items = [
        {"name": "АИ-95", "price": "54.90", "currency": "RUB"},
        {"name": "Газ", "price": 0.1, "currency": "KZT"},
    ]
    assert (await client.post("/_control/prices/77777", json=items)).status_code == 200
    r = await client.get(S2)
    expected = '{"id":77777,"fuel_prices":[{"name":"АИ-95","price":54.9,"currency":"RUB"},'
    assert expected.encode() in r.content
    assert prices_by_id(r)[77777][1]["price"] == Decimal("0.1")
    assert (await client.delete("/_control/prices/77777")).status_code == 204
    assert 77777 not in prices_by_id(await client.get(S2))
    assert (await client.delete("/_control/prices/77777")).status_code == 404
    bad = [{"name": "x", "price": "NaN", "currency": "RUB"}]
    assert (await client.post("/_control/prices/1", json=bad)).status_code == 422


async def test_demo_upsert_and_delete_a_station(client: httpx.AsyncClient) -> None:
    station = {
        "id": 50000,
        "coordinates": [44.8, 20.45],
        "number": 12,
        "address": "Кнез Михаилова 5, Београд",
        "image_urls": [],
        "additional_services": ["Мойка"],
    }
    assert (await client.post("/_control/stations", json=station)).status_code == 200
    served = {s["id"]: s for s in (await client.get(S1)).json()}
    assert served[50000] == station
    station["address"] = None
    await client.post("/_control/stations", json=station)
    assert {s["id"]: s for s in (await client.get(S1)).json()}[50000]["address"] is None
    assert (await client.delete("/_control/stations/50000")).status_code == 204
    assert 50000 not in {s["id"] for s in (await client.get(S1)).json()}
    assert (await client.delete("/_control/stations/50000")).status_code == 404
    assert (await state(client))["stations"] == 100


async def test_demo_evolve_endpoint_changes_the_data(client: httpx.AsyncClient) -> None:
    before = (await client.get(S2)).content
    changes = (await client.post("/_control/evolve", params={"steps": 3, "kind": "prices"})).json()
    assert len(changes) == 3
    assert all(c["kind"] in ("prices_changed", "prices_added") for c in changes)
    assert (await client.get(S2)).content != before
    catalog = (await client.get(S1)).content
    await client.post("/_control/evolve", params={"kind": "catalog"})
    assert (await client.get(S1)).content != catalog
    assert (await state(client))["evolution"]["steps"] == 4


async def test_demo_next_n_errors_then_data(client: httpx.AsyncClient) -> None:
    body = {"endpoint": "prices", "status": 503, "count": 2, "retry_after": 7}
    assert (await client.post("/_control/errors", json=body)).status_code == 200
    for _ in range(2):
        r = await client.get(S2)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "7"
    assert (await client.get(S2)).status_code == 200
    assert (await client.get(S1)).status_code == 200
    served = (await state(client))["served"]
    assert served["prices"] == {"503": 2, "200": 1}


async def test_demo_error_rate(client: httpx.AsyncClient) -> None:
    await client.post("/_control/errors", json={"endpoint": "stations", "status": 500, "rate": 1})
    assert [(await client.get(S1)).status_code for _ in range(3)] == [500, 500, 500]
    await client.post("/_control/errors", json={"endpoint": "stations", "status": 500, "rate": 0.5})
    codes = [(await client.get(S1)).status_code for _ in range(60)]
    assert 10 < codes.count(500) < 50
    assert codes.count(200) == 60 - codes.count(500)
    await client.delete("/_control/errors", params={"endpoint": "stations"})
    assert (await client.get(S1)).status_code == 200
    bad = {"status": 500}
    assert (await client.post("/_control/errors", json=bad)).status_code == 422


async def test_demo_malformed_records_are_of_the_stated_kinds(client: httpx.AsyncClient) -> None:
    clean = {s["id"]: s for s in (await client.get(S1)).json()}
    fault = {"endpoint": "stations", "kinds": ["null_coordinates", "missing_id"], "count": 6}
    assert (await client.post("/_control/malformed", json=fault)).status_code == 200
    r = await client.get(S1)
    assert "etag" not in r.headers  # a faulty body is never validated by a 304
    assert r.headers["x-demo-faults"] == "malformed=6"
    body = r.json()
    assert len(body) == 100
    assert sum("id" not in s for s in body) == 3
    assert sum(s.get("coordinates", 0) is None for s in body) == 3
    untouched = [s for s in body if "id" in s and s["coordinates"] is not None]
    assert all(clean[s["id"]] == s for s in untouched)
    reported = (await state(client))["last_faults"]["stations"]["malformed"]
    assert [m["kind"] for m in reported] == ["null_coordinates", "missing_id"] * 3
    assert {m["id"] for m in reported} == set(clean) - {s["id"] for s in untouched}
    # Same data, same fault: the same records are chosen.
    assert (await client.get(S1)).content == r.content


async def test_demo_malformed_fraction_times_and_every_kind(client: httpx.AsyncClient) -> None:
    fault = {"endpoint": "prices", "fraction": 0.5, "times": 1}
    await client.post("/_control/malformed", json=fault)
    r = await client.get(S2)
    n = len(json.loads(r.content.replace(b"NaN", b"null")))
    reported = (await state(client))["last_faults"]["prices"]["malformed"]
    assert len(reported) == round(n / 2)
    assert {m["kind"] for m in reported} == {k.value for k in KINDS_FOR["prices"]}
    assert b"NaN" in r.content
    assert b'"QQQ"' in r.content
    again = await client.get(S2)
    assert "etag" in again.headers
    assert b"QQQ" not in again.content


async def test_demo_malformed_refuses_kinds_of_the_other_endpoint(
    client: httpx.AsyncClient,
) -> None:
    fault = {"endpoint": "prices", "kinds": ["null_coordinates"], "count": 1}
    assert (await client.post("/_control/malformed", json=fault)).status_code == 422
    fault = {"endpoint": "both", "kinds": ["missing_id", "zero_price"], "count": 1}
    assert (await client.post("/_control/malformed", json=fault)).status_code == 200
    faults = (await state(client))["faults"]
    assert faults["stations"]["malformed"]["kinds"] == ["missing_id"]
    assert faults["prices"]["malformed"]["kinds"] == ["missing_id", "zero_price"]


@pytest.mark.parametrize("endpoint", ["stations", "prices"])
async def test_demo_whole_body_faults(client: httpx.AsyncClient, endpoint: str) -> None:
    path = S1 if endpoint == "stations" else S2
    full = (await client.get(path)).json()

    async def with_fault(**fault: Any) -> httpx.Response:
        await client.post("/_control/body", json={"endpoint": endpoint, **fault})
        return await client.get(path)

    not_json = await with_fault(kind="not_json")
    assert not_json.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(not_json.content)
    wrapped = (await with_fault(kind="object")).json()
    assert isinstance(wrapped, dict)
    assert wrapped["items"] == full
    assert (await with_fault(kind="empty")).json() == []
    half = (await with_fault(kind="truncated", drop=0.5)).json()
    assert len(half) == round(len(full) / 2)
    assert all(r in full for r in half)
    assert (await with_fault(kind="truncated", drop=0.2)).headers["x-demo-faults"] == (
        f"body=truncated;dropped={round(len(full) * 0.2)}"
    )
    await client.delete("/_control/body")
    assert (await client.get(path)).json() == full


async def test_demo_body_fault_for_one_response_only(client: httpx.AsyncClient) -> None:
    full = (await client.get(S1)).json()
    await client.post(
        "/_control/body", json={"endpoint": "stations", "kind": "truncated", "times": 1}
    )
    assert len((await client.get(S1)).json()) == len(full) // 2
    assert (await client.get(S1)).json() == full


async def test_demo_huge_body_streams_the_stated_size(client: httpx.AsyncClient) -> None:
    fault = {"endpoint": "prices", "kind": "huge", "size_mb": 3}
    await client.post("/_control/body", json=fault)
    size = 0
    async with client.stream("GET", S2) as r:
        assert "content-length" not in r.headers
        async for chunk in r.aiter_bytes():
            size += len(chunk)
    assert 3_000_000 <= size < 3_100_000
    await client.post("/_control/body", json={**fault, "declare_length": True, "size_mb": 1})
    r = await client.get(S2)
    assert int(r.headers["content-length"]) == len(r.content)
    assert len(r.json()) > 1000


async def test_demo_latency_knob(client: httpx.AsyncClient) -> None:
    assert (await client.post("/_control/latency", json={"prices": 0.3})).json() == {
        "stations": 0.0,
        "prices": 0.3,
    }
    started = time.monotonic()
    await client.get(S2)
    assert time.monotonic() - started >= 0.3


async def test_demo_reset_restores_seed_and_clears_faults(client: httpx.AsyncClient) -> None:
    seed_body = (await client.get(S2)).content
    await client.post("/_control/evolve", params={"steps": 5})
    await client.post("/_control/errors", json={"count": 5})
    await client.post("/_control/latency", json={"stations": 2})
    r = await client.post("/_control/reset")
    assert r.status_code == 200
    assert r.json()["faults"]["prices"]["errors"] is None
    assert (await client.get(S2)).content == seed_body
    s = await state(client)
    assert s["latency"]["stations"] == 0
    assert s["prices_version"] == 0


async def test_demo_evolution_knob(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/_control/evolution", json={"enabled": True, "price_changes_per_minute": 60}
    )
    assert r.json()["enabled"] is True
    assert r.json()["price_changes_per_minute"] == 60


async def test_demo_control_endpoints_can_be_disabled() -> None:
    app = create_app(fast_settings(stations=10, control=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as c:
        assert (await c.get("/_control/state")).status_code == 404
        assert (await c.post("/_control/reset")).status_code == 404
        assert (await c.get(S1)).status_code == 200
