"""v1: the seed's contract, against real responses from a store-built read model."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fuelhub_api.testing import Api, Signer, deliver, load_sample, t
from fuelhub_common.testing import seed_contract_schema

pytestmark = pytest.mark.integration

seed_schema = seed_contract_schema


async def test_v1_page_conforms_to_the_seed_contract(api: Api) -> None:
    await load_sample(api)
    response = await api.get("/api/v1/fuel-stations", params={"limit": 2})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    validator = jsonschema.Draft202012Validator(
        seed_schema("PaginatedFuelStationList"), format_checker=jsonschema.FormatChecker()
    )
    validator.validate(body)
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 5
    assert body["next"] == "http://testserver/api/v1/fuel-stations?limit=2&offset=2"
    assert body["previous"] is None
    first = body["results"][0]
    assert first["id"] == 1
    assert [f["price"] for f in first["fuels"]] == [54.9, 61.5]
    # the raw text too: exact decimals, never float artefacts
    assert '"price":54.9,' in response.text


async def test_v1_leaves_out_currencies_outside_the_seed(api: Api) -> None:
    await load_sample(api)
    body = (await api.get("/api/v1/fuel-stations")).json()
    station4 = next(s for s in body["results"] if s["id"] == 4)
    assert {f["currency"] for f in station4["fuels"]} == {"RUB"}
    v2 = (await api.get("/api/v2/fuel-stations/4")).json()["station"]
    assert {f["currency"] for f in v2["fuels"]} == {"RUB", "KZT"}


async def test_v1_every_page_conforms_and_walks_the_whole_list(api: Api) -> None:
    await load_sample(api)
    validator = jsonschema.Draft202012Validator(seed_schema("PaginatedFuelStationList"))
    url: str | None = "/api/v1/fuel-stations?limit=2"
    seen: list[int] = []
    previous_links: list[str | None] = []
    while url:
        body = (await api.get(url)).json()
        validator.validate(body)
        seen += [s["id"] for s in body["results"]]
        previous_links.append(body["previous"])
        url = body["next"]
    assert seen == [1, 2, 3, 4, 5]
    assert previous_links == [
        None,
        "http://testserver/api/v1/fuel-stations?limit=2",
        "http://testserver/api/v1/fuel-stations?limit=2&offset=2",
    ]


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(None, 100), ("5000", 1000), ("1000", 1000), ("0", 100), ("99999999999999999999", 1000)],
)
async def test_v1_limit_default_and_clamp(api: Api, limit: str | None, expected: int) -> None:
    await load_sample(api)
    params = {} if limit is None else {"limit": limit, "offset": "1"}
    body = (await api.get("/api/v1/fuel-stations", params=params)).json()
    if limit is None:
        assert len(body["results"]) == 5
    else:
        assert body["previous"] == f"http://testserver/api/v1/fuel-stations?limit={expected}"


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("limit=-1", "limit must not be negative"),
        ("limit=abc", "limit must be an integer"),
        ("limit=1.5", "limit must be an integer"),
        ("limit=", None),
        ("offset=-5", "offset must not be negative"),
        ("offset=x", "offset must be a non-negative integer"),
        ("offset=1e3", "offset must be a non-negative integer"),
        ("limit=%EF%BC%91", "limit must be an integer"),  # a full-width digit
    ],
)
async def test_v1_bad_parameters_are_400(api: Api, query: str, needle: str | None) -> None:
    response = await api.get(f"/api/v1/fuel-stations?{query}")
    if needle is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert needle in response.json()["detail"]


async def test_v1_offset_past_the_end_is_an_empty_page(api: Api) -> None:
    await load_sample(api)
    body = (await api.get("/api/v1/fuel-stations?limit=2&offset=4611686018427387904000")).json()
    assert body["results"] == []
    assert body["count"] == 5
    assert body["next"] is None


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
async def test_v1_refuses_missing_or_invalid_tokens(api: Api, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await api.client.get("/api/v1/fuel-stations", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "results" not in response.text


async def test_v1_refuses_expired_wrong_audience_refresh_and_scopeless_tokens(
    api: Api, signer: Signer
) -> None:
    for bad in (
        signer.token(ttl=-120),
        signer.token(audience="someone-else"),
        signer.token(typ="refresh+jwt"),
    ):
        response = await api.client.get("/api/v1/fuel-stations", headers=api.auth(bad))
        assert response.status_code == 401, bad
    response = await api.client.get(
        "/api/v1/fuel-stations", headers=api.auth(signer.token(scope="profile"))
    )
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_v1_etag_and_304(api: Api) -> None:
    await load_sample(api)
    first = await api.get("/api/v1/fuel-stations?limit=3")
    etag = first.headers["etag"]
    again = await api.get("/api/v1/fuel-stations?limit=3", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other_page = await api.get("/api/v1/fuel-stations?limit=2", headers={"If-None-Match": etag})
    assert other_page.status_code == 200
    # a price change moves the read model: the old ETag no longer matches
    from fuelhub_store.testing import change_set, price_list

    await deliver(
        api.database_url,
        change_set([price_list(1, t(5), [("АИ-95", "55.10", "RUB")])], t(5), prices=True),
    )
    await api.synced()
    changed = await api.get("/api/v1/fuel-stations?limit=3", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert '"price":55.1,' in changed.text


async def test_v1_links_and_icons_use_trusted_forwarded_headers(api: Api) -> None:
    await load_sample(api)
    import psycopg
    from fuelhub_store.approvals import update_catalog_entry

    async with await psycopg.AsyncConnection.connect(api.database_url) as conn:
        cur = await conn.execute("SELECT id FROM store.fuel_types WHERE name = 'АИ-95'")
        row = await cur.fetchone()
        assert row is not None
        await update_catalog_entry(
            conn,
            catalog="fuel_types",
            entry_id=row[0],
            display_name=None,
            icon_path="/media/icons/abc-128.png",
        )
    await api.synced()
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "fuel.example.com",
        "X-Forwarded-Prefix": "/gw",
    }
    body = (await api.get("/api/v1/fuel-stations?limit=1", headers=headers)).json()
    assert body["next"] == "https://fuel.example.com/gw/api/v1/fuel-stations?limit=1&offset=1"
    icon = body["results"][0]["fuels"][0]["fuel_type"]["icon"]
    assert icon == "https://fuel.example.com/gw/media/icons/abc-128.png"
    # a forged host with JSON metacharacters is ignored
    evil = {"X-Forwarded-Host": 'x.com","count":0,"a":"'}
    body = (await api.get("/api/v1/fuel-stations?limit=1", headers=evil)).json()
    assert body["count"] == 5
    assert body["results"][0]["fuels"][0]["fuel_type"]["icon"].startswith("http://testserver/")


async def test_cache_hit_fast_path_answers_exactly_like_the_route(api: Api) -> None:
    await load_sample(api)
    reader = api.app.state.services.reader
    hits: list[bool] = []
    original = reader.cached

    def spy(key: Any) -> Any:
        body = original(key)
        hits.append(body is not None)
        return body

    reader.cached = spy
    first = (await api.get("/api/v1/fuel-stations?limit=1")).json()["results"][0]["id"]
    detail = f"/api/v2/fuel-stations/{first}"
    for url in (
        "/api/v1/fuel-stations?limit=2&offset=1",
        "/api/v2/fuel-stations?fuel=ДТ&limit=1",
        detail,
    ):
        hits.clear()
        routed = await api.get(url)  # a miss: the FastAPI route builds and caches it
        fast = await api.get(url)  # a hit: answered before routing
        # the first never reached the cache through the fast path; the second did, and hit
        assert hits[-1:] == [True], url
        assert not any(hits[:-1]), url
        assert fast.content == routed.content
        for name in ("content-type", "etag", "cache-control", "vary", "content-length"):
            assert fast.headers[name] == routed.headers[name], name
        again = await api.get(url, headers={"If-None-Match": fast.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
    # a bad parameter or an unknown token is never answered by the fast path
    assert (await api.get("/api/v1/fuel-stations?limit=-3")).status_code == 400
    assert (await api.client.get("/api/v1/fuel-stations?limit=2&offset=1")).status_code == 401
    assert (await api.client.get(detail)).status_code == 401
    # fast answers are counted under the route's template, never one label per station
    metrics = (await api.client.get("/metrics")).text
    assert 'route="/api/v2/fuel-stations/{station_id}",status="200"' in metrics
    assert f'route="{detail}"' not in metrics
