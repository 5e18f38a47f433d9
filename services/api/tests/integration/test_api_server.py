"""The API's uvicorn protocol (``fuelhub_api.server``) over real sockets: a cache hit answered
inline is byte-for-byte the routed answer (headers in any order), ``304`` included; pipelined
requests mixing hits and misses come back complete and in order; a closing connection and a
miss take uvicorn's own path; inline answers are counted in the latency histogram; the Unix
socket (``API_UNIX_SOCKET``) serves the same and trusts its peer's forwarded headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fuelhub_api.main import unix_socket
from fuelhub_api.server import FastPathProtocol
from fuelhub_api.testing import Api, load_sample, serving
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

pytestmark = pytest.mark.integration

V1 = "/api/v1/fuel-stations"


@pytest.fixture
def inline(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each request the protocol tried to answer inline was answered inline."""
    seen: list[bool] = []
    original = FastPathProtocol._answer_inline

    def spy(self: FastPathProtocol, cycle: RequestResponseCycle) -> bool:
        answered = original(self, cycle)
        seen.append(answered)
        return answered

    monkeypatch.setattr(FastPathProtocol, "_answer_inline", spy)
    return seen


@pytest.fixture
async def port(api: Api) -> AsyncIterator[int]:
    config = uvicorn.Config(
        api.app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="off",
        http=FastPathProtocol,
        proxy_headers=False,  # as main.py: the protocol must see the app itself
        server_header=False,
    )
    async with serving(config) as bound:
        yield bound


Response = tuple[bytes, dict[bytes, bytes], bytes]


async def read_response(reader: asyncio.StreamReader) -> Response:
    # bounded: a request the protocol swallowed must fail the test, not hang it
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b": ")
        assert name.lower() not in headers, line  # no header twice
        headers[name.lower()] = value
    body = await asyncio.wait_for(reader.readexactly(int(headers.get(b"content-length", b"0"))), 10)
    return status, headers, body


def request(api: Api, target: str, *extra: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: api.test", f"Authorization: Bearer {api.token}"]
    return ("\r\n".join([*lines, *extra]) + "\r\n\r\n").encode()


def same(a: Response, b: Response) -> None:
    """Equal but for the date (which may tick between the two)."""
    assert a[0] == b[0]
    assert a[2] == b[2]
    assert {k: v for k, v in a[1].items() if k != b"date"} == {
        k: v for k, v in b[1].items() if k != b"date"
    }
    assert b"date" in a[1]
    assert b"date" in b[1]


async def test_inline_answers_are_the_routed_answers(
    api: Api, port: int, inline: list[bool]
) -> None:
    await load_sample(api)
    reader_, writer = await asyncio.open_connection("127.0.0.1", port)
    hits: list[bool] = []
    services = api.app.state.services
    original = services.reader.cached

    def spy(key: object) -> object:
        body = original(key)
        hits.append(body is not None)
        return body

    services.reader.cached = spy
    try:
        for target in (f"{V1}?limit=2&offset=1", "/api/v2/fuel-stations?fuel=%D0%94%D0%A2&limit=1"):
            hits.clear()
            inline.clear()
            writer.write(request(api, target))
            routed = await read_response(reader_)  # a miss: built by the route
            assert inline == [False]
            writer.write(request(api, target))
            fast = await read_response(reader_)  # a hit: written by the protocol
            assert inline == [False, True]
            assert hits[-1:] == [True]
            assert routed[0] == b"HTTP/1.1 200 OK"
            same(fast, routed)
            etag = fast[1][b"etag"].decode()
            writer.write(request(api, target, f"If-None-Match: {etag}"))
            not_modified = await read_response(reader_)
            assert not_modified[0] == b"HTTP/1.1 304 Not Modified"
            assert not_modified[2] == b""
            assert inline == [False, True, True]
            assert not_modified[1][b"etag"] == fast[1][b"etag"]
            assert b"content-length" not in not_modified[1]
    finally:
        services.reader.cached = original

    # Pipelined: a hit, a miss, a hit, a bad parameter, a hit, all in one write, in order.
    pages = [f"{V1}?limit=1", f"{V1}?limit=3", f"{V1}?limit=1", f"{V1}?limit=-1", f"{V1}?limit=1"]
    writer.write(request(api, pages[0]))
    await read_response(reader_)  # now cached
    inline.clear()
    writer.write(b"".join(request(api, p) for p in pages))
    answers = [await read_response(reader_) for _ in pages]
    # the hit was answered inline, the miss went to the app and the rest queued behind it
    assert inline == [True, False]
    assert [a[0].split(b" ")[1] for a in answers] == [b"200", b"200", b"200", b"400", b"200"]
    assert answers[0][2] == answers[2][2] == answers[4][2]
    assert b'"next":"http://api.test/api/v1/fuel-stations?limit=3&offset=3"' in answers[1][2]
    assert b"limit" in answers[3][2]  # the route's 400 detail names the parameter

    # Connection: close is honoured (uvicorn's own path), then the socket is closed.
    writer.write(request(api, f"{V1}?limit=1", "Connection: close"))
    closing = await read_response(reader_)
    assert closing[1][b"connection"] == b"close"
    assert closing[2] == answers[0][2]
    assert await reader_.read() == b""
    writer.close()

    metrics = (await api.client.get("/metrics")).text
    count = 'fuelhub_api_request_seconds_count{method="GET",route="/api/v1/fuel-stations",status='
    assert f'{count}"304"}}' in metrics
    assert f'{count}"200"}}' in metrics


async def test_an_unknown_token_is_never_answered_inline(api: Api, port: int) -> None:
    await load_sample(api)
    reader_, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request(api, f"{V1}?limit=1"))
    assert (await read_response(reader_))[0] == b"HTTP/1.1 200 OK"
    forged = api.token[:-4] + ("AAAA" if not api.token.endswith("AAAA") else "BBBB")
    lines = f"GET {V1}?limit=1 HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer {forged}"
    writer.write((lines + "\r\n\r\n").encode())
    refused = await read_response(reader_)
    assert refused[0] == b"HTTP/1.1 401 Unauthorized"
    assert refused[1][b"www-authenticate"].startswith(b"Bearer")
    writer.close()


def test_the_unix_socket_replaces_only_a_stale_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "api.sock")
    Path(path).touch()
    with pytest.raises(OSError, match="in use"):  # a plain file there is never replaced
        unix_socket(path, 16)
    Path(path).unlink()
    unix_socket(path, 16).close()  # left behind, as by a crash
    unix_socket(path, 16).close()
    assert Path(path).stat().st_mode & 0o777 == 0o666


async def test_the_unix_socket_serves_inline_and_trusts_its_peer(
    api: Api, tmp_path: Path, inline: list[bool]
) -> None:
    await load_sample(api)
    path = str(tmp_path / "api.sock")
    sock = unix_socket(path, 16)
    config = uvicorn.Config(
        api.app, log_config=None, lifespan="off", http=FastPathProtocol, proxy_headers=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server._serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
            await asyncio.sleep(0.01)
        reader_, writer = await asyncio.open_unix_connection(path)
        # the gateway's forwarded headers are believed from the socket's peer (like a trusted
        # proxy's), so links point where the client sees the API
        forwarded = ("X-Forwarded-Proto: https", "X-Forwarded-Host: fuel.example")
        for _ in range(2):
            writer.write(request(api, f"{V1}?limit=1", *forwarded))
            status, _, body = await read_response(reader_)
            assert status == b"HTTP/1.1 200 OK"
            assert b'"next":"https://fuel.example/api/v1/fuel-stations?limit=1&offset=1"' in body
        assert inline == [False, True]
        writer.close()
    finally:
        server.should_exit = True
        await task
        sock.close()
