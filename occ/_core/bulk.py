"""The many-key methods, written once: validating a batch, the flow of each item, results (pure).

A batch is checked as a whole first — an iterable of at most
:attr:`BulkCore.max_batch` items, else :class:`~occ.ValidationError` before
anything is sent — and then item by item: an item that is malformed, of
the wrong types, or whose key already appeared earlier in the batch gets
the outcome ``"invalid"`` and is not sent; the others run the flow a single
write of them would run (:mod:`occ._core.flow`), advanced together by
:func:`~occ._core.lockstep.lockstep`. Each item's result is built as the
single write's would be, so a batch and a loop of single writes agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from occ._core.batch import BulkResult, Found, ItemResult
from occ._core.flow import Flow, insert_flow
from occ._core.lockstep import Outcome
from occ._core.model import Versioned
from occ._core.query import Query, check_count, parse_order
from occ._core.repository import RepositoryCore
from occ._core.steps import Applied, Stored
from occ._core.upsert import upsert_flow
from occ.errors import BatchAbortedError, ValidationError

__all__ = ["AtomicScope", "BulkCore", "Planned", "identity"]

T = TypeVar("T")

#: the largest batch a many-key method takes by default.
MAX_BATCH = 1000


def identity(key: Any) -> Any:
    """A hashable stand-in for ``key`` that equal keys share (MongoDB keys may be documents)."""
    kind = type(key)
    if kind is int or kind is str:
        return key
    if isinstance(key, Mapping):
        return ("__document__", tuple((name, identity(part)) for name, part in key.items()))
    if isinstance(key, list | tuple):
        return (type(key).__name__, tuple(identity(part) for part in key))
    if type(key) is bool:  # True == 1 in Python, not in a database
        return ("__bool__", key)
    return key


@dataclass
class Planned:
    """One item of a batch: the flow to run, or its result already (invalid, unchanged)."""

    index: int
    key: Any
    flow: Flow | None = None
    finish: Callable[[Applied], ItemResult[Any]] | None = None
    ready: ItemResult[Any] | None = None


@dataclass
class AtomicScope(Generic[T]):
    """An all-or-nothing batch in progress: the repository bound to its transaction.

    The backend commits when the block ends, unless :attr:`failed` was set (or
    the block raised): then it rolls back.
    """

    repo: Any
    failed: bool = False
    notes: list[str] = field(default_factory=list)


class _Note:
    """The key of the item being planned, as soon as it is known (for its result if invalid)."""

    __slots__ = ("key",)

    def __init__(self) -> None:
        self.key: Any = None


def _key_of(codec: Any, value: Any) -> Any:
    try:
        return codec.key_of(value)
    except Exception:  # not a value of the model: no key to report
        return None


def _unpack(item: Any, sizes: tuple[int, ...], shape: str) -> tuple[Any, ...]:
    if type(item) is tuple and len(item) in sizes:  # the usual case, without ABC checks
        return item
    if isinstance(item, str | bytes | Mapping) or not isinstance(item, Sequence):
        raise ValidationError(f"each item must be a tuple {shape}, got {type(item).__name__}")
    if len(item) not in sizes:
        raise ValidationError(f"each item must be a tuple {shape}, got {len(item)} values")
    return tuple(item)


class BulkCore(RepositoryCore[T], Generic[T]):
    """Batch validation, item flows and results of every repository (see the module doc).

    Attributes:
        max_batch: the most items one call takes; a larger batch raises
            :class:`~occ.ValidationError` before anything is sent (split it, or
            raise this on the repository).
    """

    max_batch: int = MAX_BATCH

    # -- checking a batch ---------------------------------------------------------

    def _batch(self, items: Any, what: str) -> list[Any]:
        """The items of a batch as a list, checked as a whole."""
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
            raise ValidationError(
                f"{what}() takes an iterable of items, got {type(items).__name__}"
            )
        batch = list(items)
        limit = self.max_batch
        if len(batch) > limit:
            raise ValidationError(
                f"{what}() got {len(batch)} items, more than this repository's max_batch "
                f"({limit}); nothing was written: split the batch"
            )
        return batch

    def _claim(self, seen: dict[Any, int], key: Any, index: int) -> None:
        """Refuse a key that an earlier item of the batch already writes."""
        if key is None:
            return
        ident = identity(key)
        first = seen.setdefault(ident, index)
        if first != index:
            raise ValidationError(
                f"{self.name} {key!r} appears more than once in this batch (first at item "
                f"{first}): one write per key and batch"
            )

    def _plan(self, items: list[Any], build: Callable[[int, Any, _Note], Planned]) -> list[Planned]:
        """Each item planned by ``build``; an invalid one (or a repeated key) is not sent."""
        seen: dict[Any, int] = {}
        out: list[Planned] = []
        for index, item in enumerate(items):
            note = _Note()
            try:
                planned = build(index, item, note)
                self._claim(seen, planned.key, index)
            except ValidationError as exc:
                out.append(Planned(index, note.key, ready=ItemResult.failed(index, note.key, exc)))
                continue
            out.append(planned)
        return out

    # -- the flow of each item ------------------------------------------------------

    def _written(self, index: int) -> Callable[[Applied], ItemResult[Any]]:
        def finish(applied: Applied) -> ItemResult[Any]:
            def make() -> Versioned[Any]:
                return self._result(applied)

            return ItemResult(
                index, applied.key, applied.outcome, version=applied.version, make=make
            )

        return finish

    def _plan_inserts(self, values: list[Any]) -> list[Planned]:
        def build(index: int, value: Any, note: _Note) -> Planned:
            note.key = _key_of(self.codec, value)
            key, record, fresh = self._insert_record(value)
            note.key = key
            flow = insert_flow(self._config(), key, record, fresh=fresh)
            return Planned(index, key, flow, self._written(index))

        return self._plan(values, build)

    def _plan_updates(self, items: list[Any]) -> list[Planned]:
        def build(index: int, item: Any, note: _Note) -> Planned:
            parts = _unpack(item, (3, 4), "(key, changes, expected_version[, base])")
            note.key = parts[0]
            key = self.codec.check_key(parts[0])
            base = parts[3] if len(parts) == 4 else None
            flow = self._update_flow(key, parts[1], parts[2], base)
            return Planned(index, key, flow, self._written(index))

        return self._plan(items, build)

    def _plan_saves(self, snapshots: list[Any]) -> list[Planned]:
        def build(index: int, snapshot: Any, note: _Note) -> Planned:
            note.key = getattr(snapshot, "key", None)
            flow, changes = self._save_flow(snapshot)
            key = self.codec.check_key(snapshot.key)
            if flow is None:
                same = Versioned(
                    snapshot.value, snapshot.version, key, snapshot.base, outcome="unchanged"
                )
                ready = ItemResult(index, key, "unchanged", same, snapshot.version)
                return Planned(index, key, ready=ready)

            def finish(applied: Applied) -> ItemResult[Any]:
                def make() -> Versioned[Any]:
                    return self._saved(snapshot, applied, changes)

                return ItemResult(index, key, applied.outcome, version=applied.version, make=make)

            return Planned(index, key, flow, finish)

        return self._plan(snapshots, build)

    def _plan_deletes(self, items: list[Any]) -> list[Planned]:
        def build(index: int, item: Any, note: _Note) -> Planned:
            parts = _unpack(item, (2,), "(key, expected_version)")
            note.key = parts[0]
            key = self.codec.check_key(parts[0])
            flow = self._delete_flow(key, parts[1])

            def finish(applied: Applied) -> ItemResult[Any]:
                if applied.outcome == "written":
                    return ItemResult(index, key, "deleted", version=applied.version)
                kept = self._result(applied) if applied.record is not None else None
                return ItemResult(index, key, applied.outcome, kept, applied.version)

            return Planned(index, key, flow, finish)

        return self._plan(items, build)

    def _plan_upserts(self, values: list[Any]) -> list[Planned]:
        codec = self.codec

        def build(index: int, value: Any, note: _Note) -> Planned:
            note.key = _key_of(codec, value)
            codec.check_value(value)
            version = codec.version_of(value)
            flow: Flow
            if version is None:
                key, record, fresh = codec.insert(value)
                note.key = key
                if key is None or fresh:  # a key made for it: nothing can be taken
                    flow = insert_flow(self._config(), key, record, fresh=fresh)
                else:
                    flow = upsert_flow(self._config(), key, record, codec.diff(value, None))
                return Planned(index, key, flow, self._written(index))
            expected = codec.versions.check(version, what="the value's version")
            if note.key is None:
                raise ValidationError(
                    f"{codec.name}: a value that carries a version ({version!r}) must carry its "
                    "key too: it updates what is stored under that key"
                )
            key = codec.check_key(note.key)
            changes = codec.diff(value, None)
            flow = self._write_flow(key, expected, changes, None, returning=True, stored=None)
            return Planned(index, key, flow, self._written(index))

        return self._plan(values, build)

    # -- results ----------------------------------------------------------------------

    def _bulk_result(
        self, planned: list[Planned], outcomes: Sequence[Outcome] | None, *, atomic: bool
    ) -> BulkResult[T]:
        """Each item's result, in input order; in an all-or-nothing batch that failed, the
        items that would have been written are ``"aborted"``.

        ``outcomes``: what the flows ended with, in order; ``None`` when nothing was
        sent (an all-or-nothing batch with an invalid item).
        """
        results: list[ItemResult[Any]] = []
        done = iter(outcomes or ())
        for p in planned:
            if p.flow is None:
                assert p.ready is not None
                results.append(p.ready)
                continue
            if outcomes is None:
                p.flow.close()
                results.append(ItemResult(p.index, p.key, "written"))  # aborted below
                continue
            outcome = next(done)
            if isinstance(outcome, BaseException):
                results.append(ItemResult.failed(p.index, p.key, outcome))
            else:
                assert p.finish is not None
                results.append(p.finish(outcome))
        if atomic:
            first = next((r for r in results if not r.ok), None)
            if first is not None:
                assert first.error is not None
                cause = BatchAbortedError(first.index, first.error)
                results = [
                    ItemResult(r.index, r.key, "aborted", error=cause)
                    if r.ok and r.outcome != "unchanged"
                    else r
                    for r in results
                ]
        return BulkResult(results, atomic=atomic)

    # -- reads ------------------------------------------------------------------------

    def _read_keys(self, keys: Any) -> list[Any]:
        """The keys of ``get_many``: checked, each once, in input order."""
        batch = self._batch(keys, "get_many")
        seen: set[Any] = set()
        out = []
        for key in batch:
            checked = self.codec.check_key(key)
            ident = identity(checked)
            if ident not in seen:
                seen.add(ident)
                out.append(checked)
        return out

    def _found(self, keys: list[Any], stored: Sequence[Stored | None]) -> Found[T]:
        values = [self._versioned(s) for s in stored if s is not None]
        missing = [key for key, s in zip(keys, stored, strict=True) if s is None]
        return Found(values, missing)

    def _query_spec(self, where: Any, order_by: Any, limit: Any) -> Query:
        order = parse_order(order_by)
        return Query(where, order, check_count(limit, "limit", minimum=0, optional=True))

    def _scan_spec(self, where: Any, page_size: Any, after: Any) -> Query:
        size = check_count(page_size, "page_size", minimum=1)
        start = None if after is None else self.codec.check_key(after)
        return Query(where, (), size, start)
