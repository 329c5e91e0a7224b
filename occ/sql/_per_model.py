"""What a repository derives from its model, derived once per model and dialect.

Mapping a model and building its statements costs far more than the rest of a
repository's construction; both are pure functions of the model, the options
that shape them and the dialect, and hold nothing per request (the statement
cache they carry is bounded and safe to share). Repositories built per request
(a FastAPI dependency, say) reuse them. The cache hangs on the dialect object,
so it goes with the engine (a weak mapping keyed by the dialect would keep it
alive: the cached statements refer to their dialect).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy.engine import Dialect

from occ.sql._mapping import EntityMap
from occ.sql._records import SQLRecords

if TYPE_CHECKING:
    from occ.sync._outbox import Outbox

__all__ = ["entity_map", "per_dialect", "sql_records"]

T = TypeVar("T")

_lock = threading.Lock()
_ATTRIBUTE = "_occ_per_model"


def per_dialect(dialect: Dialect, key: Hashable, build: Callable[[], T]) -> T:
    """``build()``'s value for ``key`` on ``dialect``: built on first use, then kept there."""
    with _lock:
        known: dict[Hashable, Any] = dialect.__dict__.setdefault(_ATTRIBUTE, {})
        if key in known:
            return cast(T, known[key])
    value = build()  # outside the lock: building may raise, and two builds are harmless
    with _lock:
        return cast(T, known.setdefault(key, value))


def entity_map(
    model: Any,
    dialect: Dialect,
    *,
    version_column: str,
    version_type: str,
    token_column: str | None,
) -> EntityMap:
    """The :class:`EntityMap` of ``model`` on ``dialect`` (built on first use)."""
    key = ("entity", model, version_column, version_type, token_column)
    return per_dialect(
        dialect,
        key,
        lambda: EntityMap(
            model,
            version_column=version_column,
            version_type=version_type,
            dialect=dialect,
            token_column=token_column,
        ),
    )


def sql_records(
    entity: EntityMap, dialect: Dialect, *, tombstones: bool, outbox: Outbox | None
) -> SQLRecords:
    """The :class:`SQLRecords` of ``entity`` on ``dialect`` (built on first use)."""
    key = ("records", entity, tombstones, outbox)
    return per_dialect(
        dialect,
        key,
        lambda: SQLRecords(entity, dialect, tombstones=tombstones, outbox=outbox),
    )
