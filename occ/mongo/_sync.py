# Generated from occ/mongo/_async.py by scripts/unasync.py: edit that file, not this one.
"""``occ.mongo.Repository``: the synchronous driver of the core flows over PyMongo.

Generated from ``occ/mongo/_async.py`` by ``scripts/unasync.py``;
what the two drivers do differently lives in :mod:`occ.mongo._base`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from pymongo.collection import Collection

from occ._core.decisions import Resolver
from occ._core.flow import Flow
from occ._core.model import Versioned
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Point, Read, Write
from occ._drive import run_sync
from occ.errors import NotFoundError
from occ.mongo._base import (
    CallContext,
    MongoRepositoryBase,
    collection_kind,
    start_session,
    start_transaction,
)
from occ.mongo._commands import Plan

__all__ = ["Repository"]

T = TypeVar("T")


class Repository(MongoRepositoryBase[T], Generic[T]):
    """Versioned reads and conditional writes of one model in a PyMongo collection.

    Every versioned write is one command whose filter holds the expected
    version; reads go to the primary.

    Args:
        collection: a ``pymongo.collection.Collection`` (acknowledged write concern).
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

    Raises:
        ConfigurationError: not a PyMongo collection, ``w=0``, or a
            model without its key or version field.
    """

    def __init__(
        self,
        collection: Collection[Any],
        model: type[T] | None = None,
        *,
        key: str | None = None,
        version_field: str = "version",
        token_field: str = "_occ_token",
        shard_key: Mapping[str, Any] | None = None,
        policy: Resolver | None = None,
        retry: RetryPolicy | None = None,
        on_point: Callable[[Point], Any] | None = None,
        session: Any = None,
    ) -> None:
        self.client_kind = collection_kind(collection)
        super().__init__(
            collection,
            model,
            key=key,
            version_field=version_field,
            token_field=token_field,
            shard_key=shard_key,
            policy=policy,
            retry=retry,
            on_point=on_point,
            session=session,
        )

    # -- the driver ---------------------------------------------------------

    def _drive(self, plan: Plan, ctx: CallContext) -> Any:
        try:
            op = next(plan)
            while True:
                try:
                    method = getattr(self._coll, op.name)
                    result = method(*op.args, session=ctx.session, **op.kwargs)
                except Exception as exc:
                    op = plan.throw(exc)
                else:
                    op = plan.send(result)
        except StopIteration as stop:
            return stop.value

    def _run(self, flow: Flow, ctx: CallContext) -> Applied:
        def write(step: Write) -> Any:
            plan = self.commands.write_plan(
                step, ctx.base_for(step), in_transaction=ctx.in_transaction
            )
            return self._drive(plan, ctx)

        def read(step: Read) -> Any:
            ctx.seen = self._drive(self.commands.read_plan(step.key), ctx)
            return ctx.seen

        return run_sync(flow, read=read, write=write, on_point=self._on_point, where="occ.mongo")

    # -- the contract -------------------------------------------------------

    def find(self, key: Any) -> Versioned[T] | None:
        """The current value and version under ``key`` (read from the primary), or ``None``."""
        key = self.docs.check_key(key)
        stored = self._drive(self.commands.read_plan(key), self._context())
        return None if stored is None else self._versioned(stored)

    def get(self, key: Any) -> Versioned[T]:
        """The current value and version under ``key``; :class:`NotFoundError` if absent."""
        found = self.find(key)
        if found is None:
            raise NotFoundError(self.name, key)
        return found

    def insert(self, value: T) -> Versioned[T]:
        """Insert ``value`` at version 1 (an ``ObjectId`` key if it has none).

        Raises:
            AlreadyExistsError: the ``_id`` is taken. A violation of another unique
                index raises PyMongo's ``DuplicateKeyError`` unchanged.
        """
        ctx = self._context()
        return self._result(self._run(self._insert_flow(value, ctx), ctx))

    def update(
        self, key: Any, changes: Mapping[str, Any], *, expected_version: Any, base: Any = None
    ) -> Versioned[T]:
        """Write ``changes`` if the stored version is ``expected_version``; return the stored value.

        One ``findAndModify``. A conflict goes to the entity's policy (default:
        raise ``ConflictError``); ``base``, the values you read, enables merges.
        """
        ctx = self._context()
        flow = self._update_flow(key, changes, expected_version, base, ctx)
        return self._result(self._run(flow, ctx))

    def save(self, snapshot: Versioned[T]) -> Versioned[T]:
        """Write what differs from the snapshot's ``base`` (nested fields by path): one update."""
        ctx = self._context()
        flow, changes = self._save_flow(snapshot, ctx)
        if not changes:
            return snapshot
        return self._saved(snapshot, self._run(flow, ctx))

    def delete(self, key: Any, *, expected_version: Any) -> None:
        """Delete the document if its stored version is ``expected_version``."""
        ctx = self._context()
        self._run(self._delete_flow(key, expected_version, ctx), ctx)

    def modify(
        self, key: Any, fn: Callable[[T], T | None], *, attempts: int | None = None
    ) -> Versioned[T]:
        """Read, apply ``fn`` to the value, write conditionally; retry from a fresh read.

        ``fn`` may mutate the value it gets and return it (or return ``None``);
        it can run several times, so it must have no other side effects.
        """
        ctx = self._context()
        return self._result(self._run(self._modify_flow(key, fn, attempts, ctx), ctx))

    @contextmanager
    def transaction(self, **options: Any) -> Iterator[Repository[T]]:
        """Start a session and a transaction; yield this repository bound to it.

        Commits when the block ends, aborts if it raises (a conflict inside
        raises :class:`~occ.ConflictError`, so the transaction aborts).
        ``options`` go to the session's ``start_transaction``.
        """
        session = start_session(self.collection.database.client)
        try:
            start_transaction(session, **options)
            bound: Repository[T] = self.with_session(session)
            try:
                yield bound
            except BaseException:
                if session.in_transaction:
                    session.abort_transaction()
                raise
            if session.in_transaction:
                session.commit_transaction()
        finally:
            session.end_session()
