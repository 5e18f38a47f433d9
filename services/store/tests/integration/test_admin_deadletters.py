"""Re-queueing the store's dead letters on the real RabbitMQ (own virtual host)."""

from __future__ import annotations

from pathlib import Path

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker
from fuelhub_auth.testing import AuthHarness, auth, auth_overrides, make_auth_settings
from fuelhub_common.topology import (
    DEAD_LETTER_EXCHANGE,
    STORE_DEAD_LETTER_QUEUE_NAME,
    STORE_QUEUE_NAME,
    declare_topology,
)
from fuelhub_store.admin import deadletters
from fuelhub_store.admin.settings import AdminSettings
from fuelhub_store.admin.testing import (
    ORIGIN,
    SESSION_SECRET,
    form_token,
    in_process_admin,
    sign_in,
)
from fuelhub_store.db import make_pool

__all__ = ["auth", "auth_overrides", "make_auth_settings"]  # fixtures used below

pytestmark = pytest.mark.integration


async def dead_letter(url: str, body: bytes, message_id: str, routing_key: str | None) -> None:
    """What the store's consumer publishes when it gives up on a message."""
    headers: dict[str, str | int] = {"x-fuelhub-error": "max_attempts: boom", "keep": "me"}
    if routing_key is not None:
        headers["x-fuelhub-original-routing-key"] = routing_key
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(DEAD_LETTER_EXCHANGE.name)
        await exchange.publish(
            aio_pika.Message(body, headers=headers, message_id=message_id),
            routing_key=STORE_DEAD_LETTER_QUEUE_NAME,
        )


async def drain(url: str, queue_name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    out = []
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            out.append(message)
    return out


@pytest.fixture
async def vhost(rabbitmq_vhost_factory: object) -> str:
    url: str = rabbitmq_vhost_factory()  # type: ignore[operator]
    broker = RabbitBroker(url)
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    return url


async def test_dead_letters_go_back_to_the_store_queue_once(vhost: str) -> None:
    await dead_letter(vhost, b'{"a":1}', "m-1", "stations.changed.v1")
    await dead_letter(vhost, b'{"b":2}', "m-2", "prices.changed.v1")
    assert await deadletters.waiting(vhost) == 2

    moved = await deadletters.requeue(vhost, limit=100)
    assert [(m.message_id, m.routing_key, m.error) for m in moved] == [
        ("m-1", "stations.changed.v1", "max_attempts: boom"),
        ("m-2", "prices.changed.v1", "max_attempts: boom"),
    ]
    assert await deadletters.waiting(vhost) == 0
    back = await drain(vhost, STORE_QUEUE_NAME)
    assert [(m.message_id, m.body, m.routing_key) for m in back] == [
        ("m-1", b'{"a":1}', "stations.changed.v1"),
        ("m-2", b'{"b":2}', "prices.changed.v1"),
    ]
    assert back[0].headers.get("keep") == "me"
    assert "x-fuelhub-error" not in back[0].headers
    assert await deadletters.requeue(vhost, limit=100) == []


async def test_requeue_respects_the_limit(vhost: str) -> None:
    for n in range(3):
        await dead_letter(vhost, b"{}", f"m-{n}", "stations.changed.v1")
    assert len(await deadletters.requeue(vhost, limit=2)) == 2
    assert await deadletters.waiting(vhost) == 1


async def test_a_message_without_its_routing_key_stays_put(vhost: str) -> None:
    await dead_letter(vhost, b"{}", "stray", None)
    assert await deadletters.requeue(vhost, limit=10) == []
    assert await deadletters.waiting(vhost) == 1


async def test_unreachable_broker_is_reported() -> None:
    with pytest.raises(deadletters.BrokerUnavailableError):
        await deadletters.waiting("amqp://guest:guest@127.0.0.1:1/")


async def test_requeue_from_the_status_page_is_audited(
    vhost: str, store_db_url: str, auth: AuthHarness, tmp_path: Path
) -> None:
    await dead_letter(vhost, b"{}", "m-9", "stations.changed.v1")
    await auth.add_user("boss", "boss-password", ("admin",))
    settings = AdminSettings(
        database_url=store_db_url,
        broker_url=vhost,
        auth_issuer=auth.settings.auth_issuer,
        admin_session_secret=SESSION_SECRET,
        admin_media_dir=tmp_path,
    )
    async with in_process_admin(settings, auth.client, auth.verifier()) as admin:
        await sign_in(admin, "boss", "boss-password")
        page = await admin.get("/admin/status")
        assert "<strong>1</strong>" in page.text
        token = await form_token(admin, "/admin/status")
        response = await admin.post(
            "/admin/status/requeue", data={"csrf_token": token}, headers=ORIGIN
        )
        assert response.status_code == 200
        assert "Re-queued 1 message(s)" in response.text
    pool = make_pool(store_db_url, size=1)
    await pool.open()
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT actor, action, before FROM store.admin_audit_log")
        rows = await cur.fetchall()
    await pool.close()
    assert rows == [
        (
            "boss",
            "deadletter.requeue",
            {
                "messages": [
                    {
                        "message_id": "m-9",
                        "routing_key": "stations.changed.v1",
                        "error": "max_attempts: boom",
                    }
                ]
            },
        )
    ]
