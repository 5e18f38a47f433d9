"""Schemathesis against the API's own OpenAPI document, with a valid token, over real HTTP:
no server error, and every response conforms to the document (status, content type, schema,
headers). Bounded: a fixed number of examples per operation, derandomized."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fuelhub_api.app import create_app
from fuelhub_api.testing import Signer, api_settings
from fuelhub_common.testing import run_schemathesis
from schemathesis import checks

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXAMPLES = 60
# The change stream never ends by design; its parameters are covered by test_api_changes.
SKIP = {"v2_changes_stream"}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


class ServedApp:
    """The app on a real port, in a thread with its own event loop (schemathesis is sync)."""

    def __init__(self, database_url: str, signer: Signer) -> None:
        self.transport = signer.jwks_transport()
        self.database_url = database_url
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def __enter__(self) -> str:
        from fuelhub_api.testing import AUDIENCE, ISSUER, JWKS_URL
        from fuelhub_common.tokens import TokenVerifier

        verifier = TokenVerifier(
            jwks_url=JWKS_URL,
            issuer=ISSUER,
            audience=AUDIENCE,
            http_client=httpx.AsyncClient(transport=self.transport),
        )
        app = create_app(api_settings(self.database_url), verifier=verifier)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        assert self.thread is not None
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture
def served_base(postgres_database_factory: Callable[[], str], signer: Signer) -> Iterator[str]:
    from fuelhub_store.db import migrate

    url = postgres_database_factory()
    migrate(url)
    with ServedApp(url, signer) as base:

        async def load() -> None:
            from fuelhub_api.testing import catalog_parts, deliver, price_parts

            await deliver(url, catalog_parts())
            await deliver(url, price_parts())

        asyncio.run(load())
        time.sleep(0.5)  # the app's watcher picks the new version up
        yield base


def test_openapi_document_has_bearer_scheme_and_examples(served_base: str) -> None:
    document = httpx.get(f"{served_base}/api/openapi.json").json()
    assert document["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    ops = [op for path in document["paths"].values() for op in path.values()]
    assert all(op.get("security") == [{"jwtAuth": []}] for op in ops)
    v1 = document["paths"]["/api/v1/fuel-stations"]["get"]
    assert {p["name"] for p in v1["parameters"]} == {"limit", "offset"}
    assert any("example" in p for p in v1["parameters"])
    docs = httpx.get(f"{served_base}/api/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_schemathesis_finds_no_server_error_and_no_nonconforming_response(
    served_base: str, token: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{served_base}/api/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    statuses = run_schemathesis(
        schema,
        lambda case: case.call_and_validate(base_url=served_base, headers=headers, checks=CHECKS),
        examples=EXAMPLES,
        skip=SKIP,
    )
    assert len(statuses) >= 6, statuses
    # The token worked and the fuzzing reached the data paths, not only the refusals.
    for label, seen in statuses.items():
        assert seen[401] == 0, (label, seen)
        assert seen[200] > 0, (label, seen)


def test_schemathesis_without_a_token_gets_401_everywhere(served_base: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served_base}/api/openapi.json")

    def call(case: Any) -> Any:
        response = case.call(base_url=served_base, headers={"Authorization": ""})
        assert response.status_code == 401, (case.path, response.text)
        # schemathesis' response headers: lower-case names, lists of values
        assert response.headers["www-authenticate"][0].startswith("Bearer"), case.path
        return response

    statuses = run_schemathesis(schema, call, examples=10, skip=SKIP)
    assert statuses
