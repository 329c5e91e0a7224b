"""``occ relay URL --broker URL`` and ``occ sync status URL``: the outbox from a shell.

``occ relay`` runs an :class:`~occ.sync.AsyncRelay` until SIGINT or SIGTERM
(then it releases its leases and exits 0): the broker is chosen by its URL's
scheme (``redis://``, ``amqp://``, ``nats://``). Several ``occ relay``
processes on one outbox share its partitions (``--partitions``). The source
is a SQL database (its outbox table) or a MongoDB database (its outbox
collection, and the collections whose documents carry events: ``--collections``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

from occ._cli._common import (
    CliError,
    async_sql_url,
    connect_mongo,
    connect_sql,
    kind_of,
    safe_uri,
)

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
    relay.add_argument("url", help="SQLAlchemy URL or mongodb:// URI of the service database")
    relay.add_argument("--broker", required=True, help="redis://..., amqp://... or nats://...")
    relay.add_argument(
        "--stream",
        help="Redis only: the stream, {entity} replaced by the event's entity (occ:{entity})",
    )
    relay.add_argument("--table", default="occ_outbox", help="the outbox table (occ_outbox)")
    relay.add_argument(
        "--collections",
        nargs="+",
        default=[],
        metavar="NAME",
        help="MongoDB: the collections whose documents carry their events",
    )
    relay.add_argument("--batch", type=int, default=500, help="events per round (500)")
    relay.add_argument("--partitions", type=int, help="at most this many partitions (all)")
    relay.add_argument("--seconds", type=float, help="stop after this many seconds")
    sync = sub.add_parser("sync", help="the outbox: pending events, lag, relays")
    what = sync.add_subparsers(dest="sync_command", required=True, metavar="SUBCOMMAND")
    status = what.add_parser("status", help="pending events, lag and leases of an outbox")
    status.add_argument("url", help="SQLAlchemy URL or mongodb:// URI of the service database")
    status.add_argument("--table", default="occ_outbox", help="the outbox table (occ_outbox)")
    status.add_argument(
        "--collections",
        nargs="+",
        default=[],
        metavar="NAME",
        help="MongoDB: the collections whose documents carry their events",
    )
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


def _database(uri: str) -> Any:
    """The default database of ``uri`` (the URI must name one)."""
    name = uri.split("://", 1)[1].partition("/")[2].partition("?")[0]
    if not name:
        raise CliError(f"{safe_uri(uri)} names no database: mongodb://host:port/<database>")
    return name


async def _reader(args: argparse.Namespace) -> tuple[Any, Any]:
    """The async outbox reader of the source, and what closes its connection."""
    from occ.sync import AsyncMongoOutboxReader, AsyncOutboxReader

    if kind_of(args.url) == "mongo":
        import pymongo

        name = _database(args.url)
        connect_mongo(args.url).close()  # one clear line when the server is unreachable
        client: Any = pymongo.AsyncMongoClient(args.url)
        return AsyncMongoOutboxReader(client[name], args.table, args.collections), client.close
    if args.collections:
        raise CliError("--collections names MongoDB collections: the source is a SQL database")
    from sqlalchemy.ext.asyncio import create_async_engine

    connect_sql(args.url).dispose()  # one clear line when the database is unreachable
    engine = create_async_engine(async_sql_url(args.url))
    return AsyncOutboxReader(engine, args.table), engine.dispose


async def _relay(args: argparse.Namespace) -> int:
    from occ.sync import AsyncRelay

    publisher = publisher_for(args.broker, args.stream)
    reader, close = await _reader(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    relay = AsyncRelay(reader, publisher, batch=args.batch, partitions=args.partitions)
    try:
        if hasattr(publisher, "connect"):
            await publisher.connect()  # an unreachable broker: a clear error, not a hang
        total = await relay.run(stop, seconds=args.seconds)
    finally:
        await publisher.close()
        await close()
    print(f"occ relay: published {total} events ({relay.failures} failed rounds)")
    return 0


def run_relay(args: argparse.Namespace) -> int:
    """Run ``occ relay``: 0 after a clean stop."""
    try:
        return asyncio.run(_relay(args))
    except ConnectionError as exc:
        raise CliError(str(exc)) from exc


def _status(args: argparse.Namespace) -> Any:
    from occ.sync import MongoOutboxReader, OutboxReader

    if kind_of(args.url) == "mongo":
        name = _database(args.url)
        client = connect_mongo(args.url)
        try:
            return MongoOutboxReader(client[name], args.table, args.collections).status()
        finally:
            client.close()
    if args.collections:
        raise CliError("--collections names MongoDB collections: the source is a SQL database")
    engine = connect_sql(args.url)
    try:
        return OutboxReader(engine, args.table).status()
    finally:
        engine.dispose()


def run_status(args: argparse.Namespace) -> int:
    """Run ``occ sync status``: 0, the status on stdout."""
    status = _status(args)
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
