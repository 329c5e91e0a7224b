"""Data sync between services: change events after commit, a relay, apply-if-newer replicas.

- **Outbox**: opt an entity in (``Repository(engine, Model, outbox=Outbox())``
  or :func:`occ.policies.register_outbox`) and every write that changes a row
  records an :class:`Event` in the same transaction.
- **Relay** (:class:`Relay`, :class:`AsyncRelay`, ``occ relay``): publishes
  pending events after commit, at least once, a key's events in order, from
  an SQL outbox (:class:`OutboxReader`) or a MongoDB one (:class:`MongoOutboxReader`).
- **Brokers** (optional extras): Redis Streams (``occ[redis]``), RabbitMQ
  (``occ[rabbitmq]``), NATS JetStream (``occ[nats]``).
- **Replicas** (:class:`Replica`, :class:`MongoReplica` and their async
  twins): apply an event only if its version is newer than the one held.
- **Consumers** and **push** over HTTP deliver events to replicas.

See the guide, ``docs/sync.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from occ.sync._delivery import Delivery
from occ.sync._event import Event, EventError, PushError, decode, encode
from occ.sync._outbox import PARTITIONS, Outbox, event_headers

if TYPE_CHECKING:
    from occ.sync._async.consumer import AsyncConsumer
    from occ.sync._async.mongo_relay import AsyncMongoOutboxReader
    from occ.sync._async.mongo_replica import AsyncMongoReplica
    from occ.sync._async.push import AsyncPushClient
    from occ.sync._async.redis import AsyncRedisStreams, AsyncRedisSubscriber
    from occ.sync._async.relay import AsyncPublisher, AsyncRelay
    from occ.sync._async.replica import AsyncReplica
    from occ.sync._async.sql_reader import AsyncOutboxReader
    from occ.sync._nats import NatsJetStream, NatsSubscriber
    from occ.sync._outbox import OutboxStatus
    from occ.sync._push_app import push_route
    from occ.sync._rabbitmq import RabbitPublisher, RabbitSubscriber
    from occ.sync._replica_sql import Outcome, replica_tombstone_table
    from occ.sync._sync.consumer import Consumer
    from occ.sync._sync.mongo_relay import MongoOutboxReader
    from occ.sync._sync.mongo_replica import MongoReplica
    from occ.sync._sync.push import PushClient
    from occ.sync._sync.redis import RedisStreams, RedisSubscriber
    from occ.sync._sync.relay import Publisher, Relay
    from occ.sync._sync.replica import Replica
    from occ.sync._sync.sql_reader import OutboxReader
    from occ.sync._tables import outbox_table

__all__ = [
    "PARTITIONS",
    "AsyncConsumer",
    "AsyncMongoOutboxReader",
    "AsyncMongoReplica",
    "AsyncOutboxReader",
    "AsyncPublisher",
    "AsyncPushClient",
    "AsyncRedisStreams",
    "AsyncRedisSubscriber",
    "AsyncRelay",
    "AsyncReplica",
    "Consumer",
    "Delivery",
    "Event",
    "EventError",
    "MongoOutboxReader",
    "MongoReplica",
    "NatsJetStream",
    "NatsSubscriber",
    "Outbox",
    "OutboxReader",
    "OutboxStatus",
    "Outcome",
    "Publisher",
    "PushClient",
    "PushError",
    "RabbitPublisher",
    "RabbitSubscriber",
    "RedisStreams",
    "RedisSubscriber",
    "Relay",
    "Replica",
    "decode",
    "encode",
    "event_headers",
    "outbox_table",
    "push_route",
    "replica_tombstone_table",
]

#: names whose modules need a database driver or a broker client: imported on first use.
_LAZY = {
    "AsyncConsumer": "occ.sync._async.consumer",
    "Consumer": "occ.sync._sync.consumer",
    "AsyncRedisStreams": "occ.sync._async.redis",
    "AsyncRedisSubscriber": "occ.sync._async.redis",
    "RedisStreams": "occ.sync._sync.redis",
    "RedisSubscriber": "occ.sync._sync.redis",
    "AsyncRelay": "occ.sync._async.relay",
    "AsyncOutboxReader": "occ.sync._async.sql_reader",
    "AsyncPublisher": "occ.sync._async.relay",
    "OutboxStatus": "occ.sync._outbox",
    "Relay": "occ.sync._sync.relay",
    "OutboxReader": "occ.sync._sync.sql_reader",
    "Publisher": "occ.sync._sync.relay",
    "AsyncReplica": "occ.sync._async.replica",
    "AsyncPushClient": "occ.sync._async.push",
    "PushClient": "occ.sync._sync.push",
    "push_route": "occ.sync._push_app",
    "AsyncMongoReplica": "occ.sync._async.mongo_replica",
    "AsyncMongoOutboxReader": "occ.sync._async.mongo_relay",
    "MongoOutboxReader": "occ.sync._sync.mongo_relay",
    "MongoReplica": "occ.sync._sync.mongo_replica",
    "NatsJetStream": "occ.sync._nats",
    "NatsSubscriber": "occ.sync._nats",
    "RabbitPublisher": "occ.sync._rabbitmq",
    "RabbitSubscriber": "occ.sync._rabbitmq",
    "Replica": "occ.sync._sync.replica",
    "Outcome": "occ.sync._replica_sql",
    "replica_tombstone_table": "occ.sync._replica_sql",
    "outbox_table": "occ.sync._tables",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'occ.sync' has no attribute {name!r}")
    return getattr(import_module(module), name)
