"""v2 lists: each filter, each sort, distance, keyset pagination, detail, catalogs, 400s."""

from __future__ import annotations

import math
from typing import Any

import psycopg
import pytest
from fuelhub_api.testing import Api, load_sample

pytestmark = pytest.mark.integration


def ids(body: dict[str, Any]) -> list[int]:
    return [s["id"] for s in body["results"]]


async def listing(api: Api, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/v2/fuel-stations", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_v2_plain_list_has_updated_at_sync_and_freshness(api: Api) -> None:
    await load_sample(api)
    body = await listing(api)
    assert ids(body) == [1, 2, 3, 4, 5]
    assert body["count"] == 5
    assert body["next"] is None
    assert body["sync"].isdigit()
    assert "data_as_of" in body
    first = body["results"][0]
    assert "updated_at" in first
    assert all("updated_at" in f for f in first["fuels"])
    assert "distance_km" not in first


async def test_v2_fuel_filter_by_name_and_by_id(api: Api) -> None:
    await load_sample(api)
    by_name = await listing(api, fuel="АИ-98")
    assert ids(by_name) == [2]
    types = (await api.get("/api/v2/fuel-types")).json()["results"]
    diesel = next(f for f in types if f["name"] == "ДТ")
    assert ids(await listing(api, fuel=str(diesel["id"]))) == [1, 3]
    assert ids(await listing(api, fuel="дт")) == [1, 3]  # case-insensitive names


async def test_v2_service_filter_all_of(api: Api) -> None:
    await load_sample(api)
    assert ids(await listing(api, service="Мойка")) == [1, 2, 5]
    response = await api.get(
        "/api/v2/fuel-stations", params=[("service", "Мойка"), ("service", "Кафе")]
    )
    assert ids(response.json()) == [1]


async def test_v2_bbox_filter(api: Api) -> None:
    await load_sample(api)
    assert ids(await listing(api, bbox="55.7,37.5,55.8,37.7")) == [1, 2, 5]
    assert ids(await listing(api, bbox="59,30,60,31")) == [4]


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


async def test_v2_near_radius_distance_and_sort_by_distance(api: Api) -> None:
    await load_sample(api)
    body = await listing(api, near="55.76,37.62", radius_km="3", sort="distance")
    assert ids(body) == [2, 5, 1]
    here = (55.76, 37.62)
    for s in body["results"]:
        expected = haversine_km(here, (s["coordinate_x"], s["coordinate_y"]))
        assert s["distance_km"] == pytest.approx(expected, rel=0.01, abs=0.002)
    distances = [s["distance_km"] for s in body["results"]]
    assert distances == sorted(distances)
    assert ids(await listing(api, near="55.76,37.62", radius_km="1000")) == [1, 2, 3, 4, 5]
    assert ids(await listing(api, near="55.76,37.62", radius_km="100")) == [1, 2, 3, 5]


async def test_v2_distance_is_what_earthdistance_measures_to_the_metre(api: Api) -> None:
    """The API computes distances by haversine (cheaper); they must be earth_distance()'s."""
    await load_sample(api)
    here = (55.76, 37.62)
    body = await listing(api, near=f"{here[0]},{here[1]}", radius_km="1000", sort="distance")
    async with await psycopg.AsyncConnection.connect(api.database_url) as conn:
        for s in body["results"]:
            cur = await conn.execute(
                "SELECT round((earth_distance(ll_to_earth(%s, %s), ll_to_earth(%s, %s))"
                " / 1000.0)::numeric, 3)::float8",
                (*here, s["coordinate_x"], s["coordinate_y"]),
            )
            assert (s["id"], s["distance_km"]) == (s["id"], (await cur.fetchone())[0])  # type: ignore[index]


async def test_v2_sort_by_price_within_currency(api: Api) -> None:
    await load_sample(api)
    body = await listing(api, fuel="АИ-95", sort="price")
    # EUR before RUB (currency first), cheapest first within RUB
    assert ids(body) == [5, 2, 1, 4]
    rub = await listing(api, fuel="АИ-95", sort="price", currency="RUB")
    assert ids(rub) == [2, 1, 4]
    assert rub["count"] == 3


async def test_v2_sort_by_number(api: Api) -> None:
    await load_sample(api)
    assert ids(await listing(api, sort="number")) == [4, 2, 1, 5, 3]


async def test_v2_filters_combine(api: Api) -> None:
    await load_sample(api)
    body = await listing(
        api,
        fuel="АИ-95",
        service="Мойка",
        near="55.75,37.61",
        radius_km="5",
        sort="price",
        currency="RUB",
    )
    assert ids(body) == [2, 1]
    assert all("distance_km" in s for s in body["results"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "id"}, [1, 2, 3, 4, 5]),
        ({"sort": "number"}, [4, 2, 1, 5, 3]),
        ({"sort": "price", "fuel": "АИ-95"}, [5, 2, 1, 4]),
        ({"sort": "distance", "near": "55.76,37.62", "radius_km": "1000"}, [2, 5, 1, 3, 4]),
    ],
)
async def test_v2_keyset_pages_walk_every_sort(
    api: Api, params: dict[str, str], expected: list[int]
) -> None:
    await load_sample(api)
    seen: list[int] = []
    url: str | None = "/api/v2/fuel-stations"
    query: dict[str, str] | None = {**params, "limit": "2"}
    while url:
        body = (await api.get(url, params=query)).json()
        seen += ids(body)
        url, query = body["next"], None
    assert seen == expected


async def test_v2_detail_and_404(api: Api) -> None:
    await load_sample(api)
    body = (await api.get("/api/v2/fuel-stations/2")).json()
    assert body["station"]["id"] == 2
    assert [f["price"] for f in body["station"]["fuels"]] == [53.1, 70]
    assert (await api.get("/api/v2/fuel-stations/999")).status_code == 404
    assert (await api.get("/api/v2/fuel-stations/abc")).status_code == 400
    assert (await api.get("/api/v2/fuel-stations/99999999999999999999")).status_code == 400


async def test_v2_catalogs(api: Api) -> None:
    await load_sample(api)
    fuels = (await api.get("/api/v2/fuel-types")).json()
    assert {f["name"] for f in fuels["results"]} == {"АИ-95", "ДТ", "АИ-98", "АИ-92"}
    services = (await api.get("/api/v2/services")).json()
    assert {s["name"] for s in services["results"]} == {"Мойка", "Кафе", "Замена шин"}
    assert all(set(s) == {"id", "name", "icon"} for s in services["results"])


async def test_v2_every_read_has_an_etag_and_answers_304(api: Api) -> None:
    await load_sample(api)
    for url in (
        "/api/v2/fuel-stations?fuel=АИ-95&sort=price",
        "/api/v2/fuel-stations/1",
        "/api/v2/fuel-types",
        "/api/v2/services",
        "/api/v2/fuel-stations/1/price-history",
        "/api/v2/fuel-stations?since=0",
    ):
        first = await api.get(url)
        assert first.status_code == 200, url
        again = await api.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, url
        assert again.content == b""


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("fuel=", "fuel must not be empty"),
        ("fuel=Керосин", "unknown fuel"),
        ("fuel=123456", "unknown fuel"),
        ("service=Сауна", "unknown service"),
        ("bbox=1,2,3", "bbox must be"),
        ("bbox=1,2,3,x", "bbox must be a decimal"),
        ("bbox=91,0,92,1", "latitude must be between"),
        ("bbox=56,37,55,38", "minLat must not be greater"),
        ("bbox=nan,0,1,1", "bbox must be a decimal"),
        ("near=55.7", "near must be"),
        ("near=55.7,200", "longitude must be between"),
        ("near=55,37&radius_km=0", "radius_km must be greater than 0"),
        ("near=55,37&radius_km=-3", "radius_km must be"),
        ("near=55,37&radius_km=inf", "radius_km must be a decimal"),
        ("radius_km=3", "radius_km needs near"),
        ("sort=cheapest", "sort must be one of"),
        ("sort=price", "sort=price needs fuel"),
        ("sort=distance", "sort=distance needs near"),
        ("currency=rub&fuel=ДТ", "currency must be an ISO 4217"),
        ("currency=RUB", "currency= needs fuel"),
        ("after=garbage", "after must be"),
        ("sort=number&after=id:5", "after must be"),
        ("since=abc", "since must be a sync cursor"),
        ("since=-1", "since must be a sync cursor"),
        ("since=5&fuel=ДТ", "cannot be combined with fuel"),
        ("updated_since=yesterday", "updated_since must be an RFC 3339"),
        ("updated_since=2026-01-01T00:00:00", "must carry a UTC offset"),
        ("limit=-1", "limit must not be negative"),
        ("limit=ten", "limit must be an integer"),
        ("fuel=%00", "NUL"),
        ("fuel=' OR 1=1 --", "unknown fuel"),
    ],
)
async def test_v2_bad_parameters_are_400(api: Api, query: str, needle: str) -> None:
    await load_sample(api)
    response = await api.get(f"/api/v2/fuel-stations?{query}")
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"]


async def test_v2_since_ahead_of_the_feed_is_410(api: Api) -> None:
    await load_sample(api)
    response = await api.get("/api/v2/fuel-stations?since=999999")
    assert response.status_code == 410


async def test_concurrent_misses_share_one_query(api: Api) -> None:
    import asyncio
    import contextlib

    await load_sample(api)
    reader = api.app.state.services.reader
    original = reader.connect
    opened = 0

    @contextlib.asynccontextmanager
    async def counting() -> Any:
        nonlocal opened
        opened += 1
        async with original() as conn:
            await asyncio.sleep(0.05)  # a slow query, so the requests overlap
            yield conn

    reader.connect = counting
    url = "/api/v2/fuel-stations?near=55.75,37.61&radius_km=50&sort=distance"
    await api.get("/api/v2/fuel-types")  # the catalog is not what this test counts
    opened = 0
    responses = await asyncio.gather(*(api.get(url) for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert opened == 1
