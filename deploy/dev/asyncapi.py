"""Generates the AsyncAPI document of fuelhub's event feeds (``make asyncapi``).

The document is built by FastStream from the very publisher declarations the services use, so
it cannot drift from the code; a test regenerates it and compares with ``docs/asyncapi.json``.
"""

from __future__ import annotations

import json
import sys

from faststream.specification import AsyncAPI
from fuelhub_common.publishing import (
    declare_applied_publishers,
    declare_event_publishers,
    make_broker,
)
from fuelhub_common.settings import DEFAULT_BROKER_URL

DESCRIPTION = """\
Change events of fuelhub, on RabbitMQ.

**Raw feed** (exchange `fuelhub.events`, topic): what the ingestors observed at the upstream
sources, as versioned change sets (`stations.changed.v1`, `prices.changed.v1`) and one
`poll.completed.v1` per poll. Every entity change carries the entity's full new state and a
version (the observation time): apply a change only when its version is newer than the one you
hold, and duplicates or reordering are harmless. A change set may be split into parts sharing a
`change_set_id`; apply it once all `parts` have arrived. Messages are persistent, their AMQP
`message_id` equals `event_id` and is stable across re-deliveries.

**Applied feed** (exchange `fuelhub.applied`, topic): what the store committed —
de-duplicated, guard-checked, in commit order (`seq`; AMQP `message_id` `applied-<seq>`):
`stations.applied.v1`, `prices.applied.v1`. This is the feed most subscribers want.

Bind your own durable queue to the exchange with the routing keys you need; see
docs/events.md for the schema-evolution policy.
"""


def build() -> AsyncAPI:
    broker = make_broker(DEFAULT_BROKER_URL, description="RabbitMQ (AMQP 0-9-1)")
    declare_event_publishers(broker)
    declare_applied_publishers(broker)
    return AsyncAPI(
        broker,
        title="fuelhub events",
        version="1.0.0",
        description=DESCRIPTION,
    )


def render() -> str:
    """The AsyncAPI document as stable, pretty JSON."""
    document = build().to_specification().to_jsonable()
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
