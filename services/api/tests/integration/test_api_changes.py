"""The SSE change stream over real HTTP: backlog, live changes, resume, filters, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fuelhub_api.testing import Api, deliver, load_sample, t
from fuelhub_store.testing import change_set, price_list

pytestmark = pytest.mark.integration


async def events(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """Parse SSE frames (comments skipped)."""
    frame: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in frame:
                yield frame
            frame = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            frame[name] = value.removeprefix(" ")


async def take(url: str, token: str, n: int, **kwargs: object) -> list[dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    got: list[dict[str, str]] = []
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", url, headers=headers, **kwargs) as response,  # type: ignore[arg-type]
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in events(response):
            got.append(event)
            if len(got) == n:
                break
    return got


async def test_stream_sends_backlog_then_live_changes(api: Api, served: str) -> None:
    await load_sample(api)
    reader = asyncio.create_task(
        take(f"{served}/api/v2/changes", api.token, 11, params={"since": "0"})
    )
    await asyncio.sleep(0.5)
    await deliver(
        api.database_url,
        change_set([price_list(3, t(50), [("ДТ", "59.90", "RUB")])], t(50), prices=True),
    )
    got = await asyncio.wait_for(reader, 10)
    assert [e["id"] for e in got] == [str(i) for i in range(1, 12)]
    last = got[-1]
    assert last["event"] == "prices"
    assert '"id":3' in last["data"]
    assert '"price":59.9' in last["data"].replace(" ", "")


async def test_stream_resumes_after_last_event_id_without_gap(api: Api, served: str) -> None:
    await load_sample(api)
    first = await take(f"{served}/api/v2/changes?since=0", api.token, 4)
    assert [e["id"] for e in first] == ["1", "2", "3", "4"]
    rest = await take(
        f"{served}/api/v2/changes", api.token, 6, headers={"Last-Event-ID": first[-1]["id"]}
    )
    assert [e["id"] for e in rest] == ["5", "6", "7", "8", "9", "10"]
    # a list's sync cursor is a valid resume position too
    sync = (await api.get("/api/v2/fuel-stations")).json()["sync"]
    reader = asyncio.create_task(take(f"{served}/api/v2/changes?since={sync}", api.token, 1))
    await asyncio.sleep(0.3)
    await deliver(
        api.database_url,
        change_set([price_list(1, t(60), [("ДТ", "61.9", "RUB")])], t(60), prices=True),
    )
    (live,) = await asyncio.wait_for(reader, 10)
    assert int(live["id"]) == int(sync) + 1


async def test_stream_filters_by_station_and_box(api: Api, served: str) -> None:
    await load_sample(api)
    only_2 = await take(f"{served}/api/v2/changes?since=0&stations=2", api.token, 2)
    assert all('"id":2,' in e["data"] for e in only_2)
    assert [e["event"] for e in only_2] == ["station", "prices"]
    spb = await take(f"{served}/api/v2/changes?since=0&bbox=59,30,60,31", api.token, 2)
    assert [e["id"] for e in spb] == ["4", "9"]


async def test_stream_starts_at_the_present_without_a_position(api: Api, served: str) -> None:
    await load_sample(api)
    reader = asyncio.create_task(take(f"{served}/api/v2/changes", api.token, 1))
    await asyncio.sleep(0.5)
    await deliver(
        api.database_url,
        change_set([price_list(5, t(70), [("АИ-95", "0.70", "EUR")])], t(70), prices=True),
    )
    (event,) = await asyncio.wait_for(reader, 10)
    assert event["id"] == "11"


async def test_stream_refuses_bad_requests(api: Api, served: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.get(f"{served}/api/v2/changes")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        auth = {"Authorization": f"Bearer {api.token}"}
        for query in ("since=x", "stations=a,b", "bbox=1,2", "stations="):
            r = await client.get(f"{served}/api/v2/changes?{query}", headers=auth)
            assert r.status_code == 400, query
        r = await client.get(f"{served}/api/v2/changes", headers={**auth, "Last-Event-ID": "-"})
        assert r.status_code == 400
