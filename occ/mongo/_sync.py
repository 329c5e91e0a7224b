"""``occ.mongo.Repository``: the synchronous driver of the core flows over PyMongo."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from pymongo.collection import Collection

from occ._core.decisions import Resolver
from occ._core.flow import Flow
from occ._core.model import Versioned
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Backoff, Call, Effect, Point, Read, Write
from occ.errors import ConfigurationError, NotFoundError
from occ.mongo._base import CallContext, MongoRepositoryBase
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
        session: a ``ClientSession`` every command runs in (see :meth:`with_session`).

    Raises:
        ConfigurationError: not a PyMongo collection, ``w=0``, or a model without
            its key or version field.
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
        if not isinstance(collection, Collection):
            raise ConfigurationError(
                f"collection must be a pymongo Collection, got {type(collection).__name__} "
                "(for pymongo.AsyncMongoClient or Motor use occ.mongo.AsyncRepository)"
            )
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
                    result = getattr(self._coll, op.name)(
                        *op.args, session=ctx.session, **op.kwargs
                    )
                except Exception as exc:
                    op = plan.throw(exc)
                else:
                    op = plan.send(result)
        except StopIteration as stop:
            return stop.value

    def _run(self, flow: Flow, ctx: CallContext) -> Applied:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Write):
                    plan = self.commands.write_plan(
                        step, ctx.base_for(step), in_transaction=ctx.in_transaction
                    )
                    result: Any = self._drive(plan, ctx)
                elif isinstance(step, Read):
                    result = ctx.seen = self._drive(self.commands.read_plan(step.key), ctx)
                elif isinstance(step, Backoff):
                    time.sleep(step.seconds)
                    result = None
                elif isinstance(step, Call):
                    result = step.fn(step.arg)
                    if inspect.isawaitable(result):
                        if inspect.iscoroutine(result):
                            result.close()
                        raise ConfigurationError(
                            "modify() got an async function; use occ.mongo.AsyncRepository"
                        )
                elif isinstance(step, Point):
                    result = self._on_point(step) if self._on_point is not None else None
                elif isinstance(step, Effect):
                    step.run()
                    result = None
                else:  # pragma: no cover - the flows yield nothing else
                    raise AssertionError(f"unknown step {step!r}")
                step = flow.send(result)
        except StopIteration as stop:
            applied: Applied = stop.value
            return applied

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
        return self._result(
            self._run(self._update_flow(key, changes, expected_version, base, ctx), ctx)
        )

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
        ``options`` go to ``ClientSession.start_transaction``.
        """
        client = self.collection.database.client
        with client.start_session() as session, session.start_transaction(**options):
            bound: Repository[T] = self.with_session(session)
            yield bound
