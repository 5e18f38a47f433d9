"""uvicorn's httptools protocol, answering fast-path cache hits without an ASGI task.

For a cache hit (see :mod:`fuelhub_api.fastpath`) the response is already bytes, so the ASGI
machinery around it — a task per request, the cycle's ``send`` building the header block in
Python, two writes — is most of what a hit costs. This protocol asks the app's fast path as soon
as a request's headers are parsed and, on a hit, writes the status line, uvicorn's default
headers (``date``), the prepared header block and the body in one go. Anything else (a miss,
no fast path, a pipelined or closing connection, a full write buffer) goes to uvicorn's own
code unchanged, so the answers are the same bytes either way (``test_api_server.py`` compares
them over real sockets, pipelining included).

It depends on uvicorn's protocol internals (the version is pinned by ``uv.lock``); the test
exercises every branch it touches. Connections on the API's Unix socket get the peer address
``urls.UNIX_PEER``, which the app trusts like a proxy from ``API_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from fuelhub_api.fastpath import route_label
from fuelhub_api.urls import UNIX_PEER


class FastPathProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_app: Any = self.app if getattr(self.app, "fast_path", None) else None
        self._in_data = False  # inside data_received: the keep-alive timer is ours to re-arm
        self._answered = False
        self._defaults: list[tuple[bytes, bytes]] | None = None
        self._defaults_block = b""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_UNIX:
            # uvicorn gives Unix-socket peers no address; mark them (see urls.UNIX_PEER).
            self.client = (UNIX_PEER, 0)

    def data_received(self, data: bytes) -> None:
        self._in_data = True
        try:
            super().data_received(data)
        finally:
            self._in_data = False
        if self._answered:
            self._answered = False
            cycle = self.cycle
            # The last request of this chunk was answered inline: arm the keep-alive timeout
            # as uvicorn does after a response (a slower request still running arms it itself).
            if cycle is not None and cycle.response_complete and not self.transport.is_closing():
                self._unset_keepalive_if_required()
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if (
            self._fast_app is not None
            and app is self._fast_app
            and self._in_data
            and not self.pipeline
            and cycle.keep_alive
            and not self.flow.write_paused
            and self._answer_inline(cycle)
        ):
            return
        super()._start_asgi_task(cycle, app)

    def _answer_inline(self, cycle: RequestResponseCycle) -> bool:
        start = time.perf_counter()
        app = self._fast_app
        answer = app.fast_path.answer(cycle.scope)
        if answer is None:
            return False
        defaults = self.server_state.default_headers
        if defaults is not self._defaults:  # uvicorn replaces the list once a second (date)
            self._defaults = defaults
            self._defaults_block = b"".join(b"%s: %s\r\n" % pair for pair in defaults)
        cycle.response_started = True
        cycle.response_complete = True
        cycle.waiting_for_100_continue = False
        cycle.on_response = lambda: None
        self.transport.writelines(
            (STATUS_LINE[answer.status], self._defaults_block, answer.head, b"\r\n", answer.body)
        )
        self.server_state.total_requests += 1
        self._answered = True
        if app.fast_latency is not None:
            app.fast_latency.observe_get(
                route_label(cycle.scope["path"]), answer.status, time.perf_counter() - start
            )
        return True
