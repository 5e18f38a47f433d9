"""A broker restart while a change set is being published loses nothing."""

from __future__ import annotations

import asyncio

import aio_pika
import orjson
import pytest
from fuelhub_common.ingestion.service import Phase
from fuelhub_common.testing import PrivateRabbitMQ
from fuelhub_common.topology import STORE_QUEUE_NAME
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources
from fuelhub_ingest_source1.stations import StationsAdapter

from .ingest_helpers import ingestor

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def drain(url: str, queue_name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=True)
        messages = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            messages.append(message)
        return messages


async def test_restart_during_publish_republishes_until_confirmed(
    private_rabbitmq: PrivateRabbitMQ,
) -> None:
    with run_demo_sources(fast_settings(stations=6000)) as url:
        async with ingestor(
            private_rabbitmq.url,
            StationsAdapter(),
            f"{url}/fuel-stations",
            max_part_bytes=1024,
            publish_timeout=5.0,
        ) as service:
            poll = asyncio.create_task(service.poll_once())
            while service.phase is not Phase.PUBLISHING:
                assert not poll.done()
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.2)
            # The broker is restarted mid-publish (same node, same data directory).
            await asyncio.to_thread(private_rabbitmq.stop)
            assert not poll.done(), "the change set was published before the restart"
            await asyncio.to_thread(private_rabbitmq.start)
            outcome = await asyncio.wait_for(poll, timeout=180)
            assert outcome.outcome.value == "succeeded"
            assert service.tracker.primed  # remembered only now, after every confirm
            # The publish loop itself re-sent what the broker had not confirmed.
            assert service._publisher.retries > 0

    messages = await drain(private_rabbitmq.url, STORE_QUEUE_NAME)
    parts: dict[int, bytes] = {}
    for message in messages:
        body = orjson.loads(message.body)
        if "part" in body and body["change_set_id"] == str(outcome.change_set_id):
            parts[body["part"]] = message.body
            assert message.message_id == body["event_id"]
    total = orjson.loads(next(iter(parts.values())))["parts"]
    assert total > 20
    assert sorted(parts) == list(range(1, total + 1)), "a part was lost"
    ids = {c["id"] for body in parts.values() for c in orjson.loads(body)["changes"]}
    assert len(ids) == outcome.upserts == outcome.records_accepted
