"""What the sync and async MongoDB repositories share: options, validation, flows.

The drivers (:mod:`occ.mongo._sync`, :mod:`occ.mongo._async`) subclass
:class:`MongoRepositoryBase`; they run the core flows built here and execute
the ops of the plans of :mod:`occ.mongo._commands`.

The few things the drivers do differently are ``name`` / ``async_name``
function pairs here: ``occ/mongo/_sync.py`` is generated from
``occ/mongo/_async.py`` by ``scripts/unasync.py``, which renames one to the other.
The async ones drive PyMongo's native async client (``pymongo.AsyncMongoClient``,
the first target) and Motor, whose session APIs await in opposite places.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from pymongo import ReadPreference
from pymongo.collection import Collection

from occ._core.commutative import MONGO_OPS, commutative_flow, commutative_ops
from occ._core.decisions import Resolver
from occ._core.flow import Flow, FlowConfig, Stats, insert_flow, write_flow
from occ._core.model import Record, Version, Versioned, freeze
from occ._core.retry import RetryPolicy
from occ._core.steps import Point, Stored, Write
from occ._core.versions import IntVersions
from occ._repository import RepositoryCore, check_snapshot, delete_flow
from occ.errors import ConfigurationError, ValidationError
from occ.mongo._commands import Commands
from occ.mongo._mapping import DocumentMap
from occ.policies import policy_for

__all__ = [
    "CallContext",
    "MongoRepositoryBase",
    "async_collection_kind",
    "async_start_session",
    "async_start_transaction",
    "collection_kind",
    "start_session",
    "start_transaction",
]

T = TypeVar("T")


# -- what the sync and async drivers do differently --------------------------


def collection_kind(collection: Any) -> str:
    """``"pymongo"`` for a PyMongo ``Collection``; anything else is a configuration error."""
    if not isinstance(collection, Collection):
        raise ConfigurationError(
            f"collection must be a pymongo Collection, got {type(collection).__name__} "
            "(for pymongo.AsyncMongoClient or Motor use occ.mongo.AsyncRepository)"
        )
    return "pymongo"


def async_collection_kind(collection: Any) -> str:
    """``"pymongo"`` or ``"motor"``; anything else is a configuration error."""
    from pymongo.asynchronous.collection import AsyncCollection

    if isinstance(collection, AsyncCollection):
        return "pymongo"
    if type(collection).__module__.startswith("motor.") and hasattr(collection, "delegate"):
        return "motor"
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


async def async_start_session(client: Any) -> Any:
    """``client.start_session()``: plain on PyMongo async, awaited on Motor."""
    session = client.start_session()
    return await session if inspect.isawaitable(session) else session


def start_transaction(session: Any, **options: Any) -> None:
    """``session.start_transaction(**options)`` (its context manager is not used)."""
    session.start_transaction(**options)


async def async_start_transaction(session: Any, **options: Any) -> None:
    """``session.start_transaction(**options)``: awaited on PyMongo async, plain on Motor."""
    started = session.start_transaction(**options)
    if inspect.isawaitable(started):
        await started


@dataclass
class CallContext:
    """State of one repository call: the session, and the last document read.

    ``seen`` is the stored document at a known version; a write expecting that
    version updates nested fields by dotted paths relative to it.
    """

    session: Any
    in_transaction: bool
    seen: Stored | None = None

    def base_for(self, step: Write) -> Record | None:
        seen = self.seen
        if seen is not None and seen.version == step.expected_version and seen.key == step.key:
            return seen.record
        return None


class MongoRepositoryBase(RepositoryCore[T], Generic[T]):
    """Pure part of a MongoDB repository. Drivers subclass it and run flows and plans."""

    def __init__(
        self,
        collection: Any,
        model: Any,
        *,
        key: str | None,
        version_field: str,
        token_field: str,
        shard_key: Mapping[str, Any] | None,
        policy: Resolver | None,
        retry: RetryPolicy | None,
        on_point: Callable[[Point], Any] | None,
        session: Any,
    ) -> None:
        write_concern = collection.write_concern
        if not write_concern.acknowledged:
            raise ConfigurationError(
                f"collection {collection.full_name} has write concern {write_concern.document}: "
                "an unacknowledged write (w=0) cannot tell whether the version matched. Use "
                "collection.with_options(write_concern=WriteConcern(w=1)) or 'majority'"
            )
        name = collection.name if model in (None, dict) else model.__name__
        self.docs = DocumentMap(
            model,
            entity=name,
            key=key,
            version_field=version_field,
            token_field=token_field,
            shard_key=shard_key,
        )
        self.commands = Commands(self.docs)
        #: the caller's collection; every command goes to the primary.
        self.collection = collection
        self._coll = collection.with_options(read_preference=ReadPreference.PRIMARY)
        self.policy: Resolver = policy if policy is not None else policy_for(model, collection.name)
        self.retry = retry or RetryPolicy()
        self.stats = Stats()
        self.session = session
        self._on_point = on_point
        self.config = FlowConfig(
            entity=name,
            versions=IntVersions(),
            retry=self.retry,
            resolver=self.policy,
            joined=False,
            points=on_point is not None,
            stats=self.stats,
        )
        self._joined_config = replace(self.config, joined=True)

    @property
    def name(self) -> str:
        """The entity name used in errors and conflicts."""
        return self.docs.entity

    def with_session(self, session: Any) -> Any:
        """This repository with every command in ``session`` (same policy, stats, options).

        Inside a transaction the writes join it, and a conflict raises at once
        (never retried: the transaction must abort and start over).
        """
        bound = copy.copy(self)
        bound.session = session
        return bound

    # -- per call -------------------------------------------------------------

    def _context(self) -> CallContext:
        session = self.session
        in_transaction = bool(session is not None and session.in_transaction)
        return CallContext(session, in_transaction)

    def _config(self, ctx: CallContext) -> FlowConfig:
        return self._joined_config if ctx.in_transaction else self.config

    # -- hooks of RepositoryCore ------------------------------------------------

    def _to_value(self, stored: Stored) -> Any:
        return self.docs.to_value(stored)

    def _to_record(self, value: Any) -> dict[str, Any]:
        return self.docs.to_record(value)

    def _with_version(self, value: Any, version: Version) -> Any:
        return self.docs.with_version(value, version)

    def _check_value(self, value: Any) -> None:
        self.docs.check_value(value)

    def _key_changed(self, value: Any, key: Any) -> bool:
        return self.docs.key_of(value) not in (key, None)

    def _changes(self, value: Any, base: Record | None) -> dict[str, Any]:
        return self.docs.diff(value, base)

    # -- building flows -------------------------------------------------------

    def _insert_flow(self, value: Any, ctx: CallContext) -> Flow:
        docs = self.docs
        docs.check_value(value)
        version = docs.version_of(value)
        if version is not None:
            raise ValidationError(
                f"this {docs.entity} already carries version {version!r}: insert() starts at "
                "the first version; to change a stored document use update() or save()"
            )
        record = docs.insert_record(value)
        key = docs.key_of(value)
        if key is None:
            from bson import ObjectId

            key = ObjectId()
        docs.check_key(key)
        return insert_flow(self._config(ctx), key, record)

    def _update_flow(
        self, key: Any, changes: Any, expected_version: Any, base: Any, ctx: CallContext
    ) -> Flow:
        key = self.docs.check_key(key)
        expected = IntVersions().check(expected_version)
        values = self.docs.check_changes(changes)
        base_record = self._base_record(base)
        ops = commutative_ops(self.policy, values, base_record, MONGO_OPS)
        if ops is not None and not ctx.in_transaction:
            return commutative_flow(self._config(ctx), key=key, ops=ops)
        return write_flow(
            self._config(ctx),
            action="update",
            key=key,
            expected=expected,
            changes=values,
            base=base_record,
            returning=True,
        )

    def _base_record(self, base: Any) -> Record | None:
        if base is None:
            return None
        docs = self.docs
        if isinstance(base, Versioned):
            return base.base if base.base is not None else freeze(docs.to_record(base.value))
        if docs.kind != "dict" and isinstance(base, docs.model):
            return freeze(docs.to_record(base))
        if isinstance(base, Mapping):
            reserved = {"_id", docs.key, docs.version_field, docs.token_field}
            return freeze(docs.check_changes({k: v for k, v in base.items() if k not in reserved}))
        raise ValidationError(
            f"base must be the values you read (a mapping, a {docs.entity} or a Versioned), "
            f"got {type(base).__name__}"
        )

    def _save_flow(self, snapshot: Any, ctx: CallContext) -> tuple[Flow, dict[str, Any]]:
        check_snapshot(snapshot)
        docs = self.docs
        docs.check_value(snapshot.value)
        key = docs.check_key(snapshot.key)
        if docs.key_of(snapshot.value) not in (key, None):
            raise ValidationError(
                f"{docs.entity}: the value's key {docs.key_of(snapshot.value)!r} differs from "
                f"the snapshot's key {key!r}; a key cannot change"
            )
        expected = IntVersions().check(snapshot.version, what="snapshot.version")
        changes = docs.diff(snapshot.value, snapshot.base)
        ops = commutative_ops(self.policy, changes, snapshot.base, MONGO_OPS)
        if ops is not None and not ctx.in_transaction:
            return commutative_flow(self._config(ctx), key=key, ops=ops), changes
        if snapshot.base is not None:
            ctx.seen = Stored(key, expected, snapshot.base)
        flow = write_flow(
            self._config(ctx),
            action="update",
            key=key,
            expected=expected,
            changes=changes,
            base=snapshot.base,
            returning=False,
        )
        return flow, changes

    def _delete_flow(self, key: Any, expected_version: Any, ctx: CallContext) -> Flow:
        key = self.docs.check_key(key)
        return delete_flow(self._config(ctx), key, IntVersions().check(expected_version))

    def _modify_flow(
        self, key: Any, fn: Callable[[Any], Any], attempts: int | None, ctx: CallContext
    ) -> Flow:
        key = self.docs.check_key(key)
        return self._modify(self._config(ctx), key, fn, attempts, joined=ctx.in_transaction)
