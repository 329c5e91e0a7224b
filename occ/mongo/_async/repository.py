"""``occ.mongo.AsyncRepository``: the repository contract over a MongoDB collection.

The commands themselves are built by :class:`~occ.mongo._commands.Commands`
(pure); this driver executes them, in the repository's session if it has one.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pymongo import ReadPreference

from occ._core.decisions import Resolver
from occ._core.retry import RetryPolicy
from occ._core.steps import Point, Read, Stored, Write
from occ.errors import ConfigurationError
from occ.mongo._async.bulk import AsyncMongoBulk
from occ.mongo._clients import acheck_collection, astart_session, astart_transaction
from occ.mongo._commands import Commands, Plan
from occ.mongo._mapping import DocumentMap
from occ.policies import outbox_for
from occ.sync._outbox import as_outbox

if TYPE_CHECKING:
    from occ.sync._mongo_outbox import MongoOutbox
    from occ.sync._outbox import Outbox

__all__ = ["AsyncRepository"]

T = TypeVar("T")


class AsyncRepository(AsyncMongoBulk[T], Generic[T]):
    """Versioned reads and conditional writes of one model in a MongoDB collection.

    Every versioned write is one command whose filter holds the expected
    version. Reads go to the primary unless ``read_preference`` says
    otherwise; a read that must see the latest version (classifying a
    conflict, ``modify``'s re-read after one, settling a lost reply) always
    goes to the primary.

    Args:
        collection: the collection (``acheck_collection`` says which clients),
            with an acknowledged write concern.
        model: ``dict`` (default), a dataclass or a pydantic v2 model class.
        key: the attribute (or dict key) stored as ``_id``; default ``"_id"`` for
            dicts, ``"id"`` for classes.
        version_field: the version field, in documents and in the model.
        token_field: where each write stores its random token.
        shard_key: fields and values added to every filter and to inserts
            (a sharded collection's shard key, a tenant).
        policy: the conflict resolver; default: the one registered for ``model``
            (or the collection name) in :mod:`occ.policies`, else ``Raise``.
        retry: attempts and backoff for resolved writes and ``modify``.
        on_point: called with each named yield point (tests and schedulers).
        session: a client session every command runs in (see :meth:`with_session`).
        tombstones: keep each deleted key's last version (collection
            ``occ_tombstones`` of the same database) so a key's versions never
            repeat: a snapshot read before a delete never applies to a document
            inserted again under the key. Costs one command on each delete and
            on each insert under an explicit key.
        write_concern: the write concern of every write (default: the
            collection's). On a replica set use ``WriteConcern(w="majority")``:
            a write acknowledged by the primary alone can be rolled back by a
            failover, and its version then reused by another writer.
        read_concern: the read concern of ``get``, ``find`` and ``modify``'s
            first read (default: the collection's); ``ReadConcern("majority")``
            returns only versions that survive a failover.
        read_preference: where ``get``, ``find`` and ``modify``'s first read
            go (default: the primary), e.g. ``ReadPreference.SECONDARY_PREFERRED``;
            a version read from a secondary may be old, and a write based on it
            conflicts and is resolved by the policy, never lost.
        outbox: record a change event atomically with every write that changes
            a document (an :class:`occ.sync.Outbox`, or ``True`` for its
            defaults; where the event waits: its ``mongo`` option); default: the
            one registered in :mod:`occ.policies`, if any. Needs ``tombstones``.

    Raises:
        ConfigurationError: a collection of another client or mode, ``w=0``, a
            model without its key or version field, or an outbox without tombstones.
    """

    def __init__(
        self,
        collection: Any,
        model: type[T] | None = None,
        *,
        key: str | None = None,
        version_field: str = "version",
        token_field: str = "_occ_tokens",
        shard_key: Mapping[str, Any] | None = None,
        policy: Resolver | None = None,
        retry: RetryPolicy | None = None,
        on_point: Callable[[Point], Any] | None = None,
        session: Any = None,
        tombstones: bool = True,
        write_concern: Any = None,
        read_concern: Any = None,
        read_preference: Any = None,
        outbox: Outbox | bool | None = None,
    ) -> None:
        acheck_collection(collection)
        write_concern = write_concern or collection.write_concern
        if not write_concern.acknowledged:
            raise ConfigurationError(
                f"collection {collection.full_name} has write concern {write_concern.document}: "
                "an unacknowledged write (w=0) cannot tell whether the version matched. Use "
                "collection.with_options(write_concern=WriteConcern(w=1)) or 'majority'"
            )
        name = collection.name if model in (None, dict) else model.__name__
        docs = DocumentMap(
            model,
            entity=name,
            key=key,
            version_field=version_field,
            token_field=token_field,
            shard_key=shard_key,
        )
        super().__init__(
            docs,
            policy=policy,
            policy_keys=(model, collection.name),
            retry=retry,
            on_point=on_point,
        )
        self.docs = docs
        self.commands = Commands(docs, tombstones=tombstones)
        #: the caller's collection.
        self.collection = collection
        #: writes and the reads that must see the latest version: the primary.
        self._coll = collection.with_options(
            read_preference=ReadPreference.PRIMARY, write_concern=write_concern
        )
        #: reads that may be served as the caller chose (see read_preference, read_concern).
        self.reads = self._coll.with_options(
            read_preference=read_preference or ReadPreference.PRIMARY,
            read_concern=read_concern or collection.read_concern,
        )
        #: deleted keys' last versions, in the collection's database.
        self._tombstones = self._coll.database.get_collection(
            "occ_tombstones", read_preference=ReadPreference.PRIMARY, write_concern=write_concern
        )
        self.session = session
        #: the change events of its writes (see :mod:`occ.sync`), ``None`` without an outbox.
        self.outbox: MongoOutbox | None = None
        self._outbox_coll: Any = None
        config = as_outbox(outbox_for(model, collection.name) if outbox is None else outbox)
        if config is not None:
            from occ.sync._mongo_outbox import MongoOutbox

            if not tombstones:
                raise ConfigurationError(
                    f"{name}: an outbox needs tombstones (a replica orders a key's events by "
                    "version, across deletes too)"
                )
            self.outbox = MongoOutbox(config, docs, self.commands, collection.name)
            self._outbox_coll = self._coll.database.get_collection(
                config.table, read_preference=ReadPreference.PRIMARY
            )

    def with_session(self, session: Any) -> Any:
        """This repository with every command in ``session`` (same policy, stats, options).

        Inside a transaction the writes join it, and a conflict raises at once
        (never retried: the transaction must abort and start over).
        """
        bound = copy.copy(self)
        bound.session = session
        return bound

    def _joined(self) -> bool:
        session = self.session
        return bool(session is not None and session.in_transaction)

    # -- executing commands -------------------------------------------------

    async def _execute(self, plan: Plan, collection: Any = None) -> Any:
        """Run each command of ``plan`` on the collection (or ``collection``); return what
        the plan returns."""
        session = self.session
        coll = self._coll if collection is None else collection
        try:
            op = next(plan)
            while True:
                try:
                    target = self._tombstones if op.tombstones else coll
                    target = self._outbox_coll if op.outbox else target
                    call = getattr(target, op.name)(*op.args, session=session, **op.kwargs)
                    # a find returns a cursor: every document of it
                    result = await (call.to_list(None) if op.name == "find" else call)
                except Exception as exc:
                    op = plan.throw(exc)
                else:
                    op = plan.send(result)
        except StopIteration as stop:
            return stop.value

    async def _read(self, step: Read) -> Stored | None:
        # In a transaction every read is the transaction's (on the primary).
        routed = not step.primary and not self._joined()
        plan = self.commands.read_plan(step.key)
        if self.outbox is not None:  # a deleted document awaiting its relay reads as absent
            plan = self.outbox.read_plan(plan)
        stored: Stored | None = await self._execute(plan, self.reads if routed else None)
        return stored

    async def _write(self, step: Write) -> Any:
        if self.outbox is not None:  # the write and its change event (occ.sync)
            from occ.sync._async.mongo_source import aoutbox_write

            return await aoutbox_write(self, step)
        return await self._execute(self.commands.write_plan(step, in_transaction=self._joined()))

    # -- transactions -------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, **options: Any) -> AsyncIterator[AsyncRepository[T]]:
        """Start a session and a transaction; yield this repository bound to it.

        Commits when the block ends, aborts if it raises (a conflict inside
        raises :class:`~occ.ConflictError`, so the transaction aborts).
        ``options`` go to the session's ``start_transaction``.
        """
        session = await astart_session(self.collection.database.client)
        try:
            await astart_transaction(session, **options)
            bound: AsyncRepository[T] = self.with_session(session)
            try:
                yield bound
            except BaseException:
                if session.in_transaction:
                    await session.abort_transaction()
                raise
            if session.in_transaction:
                await session.commit_transaction()
        finally:
            await session.end_session()
