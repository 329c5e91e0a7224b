"""``occ relay URL --broker URL`` and ``occ sync status URL``: the outbox from a shell.

``occ relay`` runs an :class:`~occ.sync.AsyncRelay` until SIGINT or SIGTERM
(then it releases its leases and exits 0): the broker is chosen by its URL's
scheme (``redis://``, ``amqp://``, ``nats://``). Several ``occ relay``
processes on one outbox share its partitions (``--partitions``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

from occ._cli._common import CliError, async_sql_url, connect_sql, kind_of

__all__ = ["add_parsers", "run_relay", "run_status"]


def add_parsers(sub: Any) -> None:
    """Add ``occ relay`` and ``occ sync`` to the subcommands."""
    relay = sub.add_parser(
        "relay",
        help="publish an outbox's change events to a broker (until SIGINT/SIGTERM)",
        description="Read the pending events of an outbox table in order, publish them "
        "to Redis Streams, RabbitMQ or NATS JetStream, mark them published; at least "
        "once, a key's events in order. Several relays share the outbox's partitions.",
    )
    relay.add_argument("url", help="SQLAlchemy URL of the service database")
    relay.add_argument("--broker", required=True, help="redis://..., amqp://... or nats://...")
    relay.add_argument(
        "--stream",
        help="Redis only: the stream, {entity} replaced by the event's entity (occ:{entity})",
    )
    relay.add_argument("--table", default="occ_outbox", help="the outbox table (occ_outbox)")
    relay.add_argument("--batch", type=int, default=500, help="events per round (500)")
    relay.add_argument("--partitions", type=int, help="at most this many partitions (all)")
    relay.add_argument("--seconds", type=float, help="stop after this many seconds")
    sync = sub.add_parser("sync", help="the outbox: pending events, lag, relays")
    what = sync.add_subparsers(dest="sync_command", required=True, metavar="SUBCOMMAND")
    status = what.add_parser("status", help="pending events, lag and leases of an outbox")
    status.add_argument("url", help="SQLAlchemy URL of the service database")
    status.add_argument("--table", default="occ_outbox", help="the outbox table (occ_outbox)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")


def publisher_for(url: str, stream: str | None = None) -> Any:
    """The async publisher of a broker URL (``stream``: the Redis stream's name)."""
    scheme = url.partition("://")[0]
    if stream is not None and scheme not in ("redis", "rediss"):
        raise CliError(f"--stream names a Redis stream: the broker {scheme}:// has none")
    if scheme in ("redis", "rediss"):
        from occ.sync import AsyncRedisStreams

        return AsyncRedisStreams(url, stream=stream or "occ:{entity}")
    if scheme in ("amqp", "amqps"):
        from occ.sync import RabbitPublisher

        return RabbitPublisher(url)
    if scheme in ("nats", "tls"):
        from occ.sync import NatsJetStream

        return NatsJetStream(url)
    raise CliError(f"unsupported broker {scheme!r}: use redis://, amqp:// or nats://")


def _engine(url: str) -> Any:
    from sqlalchemy.ext.asyncio import create_async_engine

    if kind_of(url) != "sql":
        raise CliError("the relay reads a SQL outbox: give a SQLAlchemy URL")
    connect_sql(url).dispose()  # one clear line when the database is unreachable
    return create_async_engine(async_sql_url(url))


async def _relay(args: argparse.Namespace) -> int:
    from occ.sync import AsyncOutboxReader, AsyncRelay

    publisher = publisher_for(args.broker, args.stream)
    engine = _engine(args.url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    relay = AsyncRelay(
        AsyncOutboxReader(engine, args.table),
        publisher,
        batch=args.batch,
        partitions=args.partitions,
    )
    try:
        if hasattr(publisher, "connect"):
            await publisher.connect()  # an unreachable broker: a clear error, not a hang
        total = await relay.run(stop, seconds=args.seconds)
    finally:
        await publisher.close()
        await engine.dispose()
    print(f"occ relay: published {total} events ({relay.failures} failed rounds)")
    return 0


def run_relay(args: argparse.Namespace) -> int:
    """Run ``occ relay``: 0 after a clean stop."""
    try:
        return asyncio.run(_relay(args))
    except ConnectionError as exc:
        raise CliError(str(exc)) from exc


def run_status(args: argparse.Namespace) -> int:
    """Run ``occ sync status``: 0, the status on stdout."""
    from occ.sync import OutboxReader

    engine = connect_sql(args.url)
    try:
        status = OutboxReader(engine, args.table).status()
    finally:
        engine.dispose()
    held = sorted({who for who in status.leases.values() if who})
    if args.json:
        body = {
            "pending": status.pending,
            "lag_seconds": round(status.lag, 3),
            "published": status.published,
            "relays": held,
        }
        print(json.dumps(body))
        return 0
    print(
        f"outbox {args.table}: {status.pending} pending, lag {status.lag:.1f}s, "
        f"{status.published} published (kept for the retention period)"
    )
    print(f"relays: {', '.join(held) if held else 'none running'}")
    return 0
