"""What the sync and async MongoDB drivers do differently, as ``name``/``aname`` pairs.

The async ones serve PyMongo's native async client (``pymongo.AsyncMongoClient``,
the first target) and Motor, whose session APIs await in opposite places.
``occ/_sync/mongo.py`` is generated from ``occ/_async/mongo.py``, which calls
the ``a`` names.
"""

from __future__ import annotations

import inspect
from typing import Any

from pymongo.collection import Collection

from occ.errors import ConfigurationError

__all__ = [
    "acheck_collection",
    "astart_session",
    "astart_transaction",
    "check_collection",
    "start_session",
    "start_transaction",
]


def check_collection(collection: Any) -> None:
    """Refuse anything but a PyMongo ``Collection``."""
    if not isinstance(collection, Collection):
        raise ConfigurationError(
            f"collection must be a pymongo Collection, got {type(collection).__name__} "
            "(for pymongo.AsyncMongoClient or Motor use occ.mongo.AsyncRepository)"
        )


def acheck_collection(collection: Any) -> None:
    """Refuse anything but a PyMongo async (``AsyncMongoClient``) or a Motor collection."""
    from pymongo.asynchronous.collection import AsyncCollection

    if isinstance(collection, AsyncCollection):
        return
    if type(collection).__module__.startswith("motor.") and hasattr(collection, "delegate"):
        return
    hint = (
        " (for a sync pymongo Collection use occ.mongo.Repository)"
        if isinstance(collection, Collection)
        else ""
    )
    raise ConfigurationError(
        "collection must be a pymongo AsyncCollection (pymongo.AsyncMongoClient) or a Motor "
        f"collection, got {type(collection).__name__}{hint}"
    )


def start_session(client: Any) -> Any:
    """``client.start_session()``."""
    return client.start_session()


async def astart_session(client: Any) -> Any:
    """``client.start_session()``: plain on PyMongo async, awaited on Motor."""
    session = client.start_session()
    return await session if inspect.isawaitable(session) else session


def start_transaction(session: Any, **options: Any) -> None:
    """``session.start_transaction(**options)`` (its context manager is not used)."""
    session.start_transaction(**options)


async def astart_transaction(session: Any, **options: Any) -> None:
    """``session.start_transaction(**options)``: awaited on PyMongo async, plain on Motor."""
    started = session.start_transaction(**options)
    if inspect.isawaitable(started):
        await started
