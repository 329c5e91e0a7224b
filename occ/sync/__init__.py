"""Data sync between services: change events after commit, a relay, apply-if-newer replicas.

- **Outbox**: opt an entity in (``Repository(engine, Model, outbox=Outbox())``
  or :func:`occ.policies.register_outbox`) and every write that changes a row
  records an :class:`Event` in the same transaction.
- **Relay** (:class:`Relay`, :class:`AsyncRelay`, ``occ relay``): publishes
  pending events after commit, at least once, a key's events in order.
- **Brokers** (optional extras): Redis Streams (``occ[redis]``), RabbitMQ
  (``occ[rabbitmq]``), NATS JetStream (``occ[nats]``).
- **Replicas** (:class:`Replica`, :class:`MongoReplica` and their async
  twins): apply an event only if its version is newer than the one held.
- **Consumers** and **push** over HTTP deliver events to replicas.

See the guide, ``docs/sync.md``.
"""

from __future__ import annotations

from occ.sync._event import Event, EventError, decode, encode
from occ.sync._outbox import PARTITIONS, Outbox, event_headers, outbox_table

__all__ = [
    "PARTITIONS",
    "Event",
    "EventError",
    "Outbox",
    "decode",
    "encode",
    "event_headers",
    "outbox_table",
]
