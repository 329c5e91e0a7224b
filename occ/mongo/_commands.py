"""The MongoDB commands of every step, written once as plans (pure).

A *plan* is a small generator that yields :class:`Op` (a collection method
and its arguments) and receives the method's result, or has the method's
exception thrown into it. The sync and async drivers only execute ops, so
filters, updates, write tokens and error handling exist once.

Every versioned write is one command whose filter holds the expected version
(``{"_id": {"$eq": key}, version: {"$eq": v}}``), never an upsert. Every
write also pushes its random token onto the document's last
``TOKEN_WINDOW`` tokens: when a write's reply is lost (the connection dropped
after the server may have got it), the core reads the document and knows from
them whether it applied (see :mod:`occ._core.settle`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bson import json_util
from bson.errors import BSONError
from pymongo import ReturnDocument
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from occ._core.commutative import FieldOp
from occ._core.model import Record, Version
from occ._core.settle import TOKEN_WINDOW, new_token
from occ._core.steps import Applied, Lost, Missed, Write
from occ.errors import ValidationError
from occ.mongo._mapping import DocumentMap, same

__all__ = ["Commands", "Op", "Plan"]

#: MongoDB's WriteConflict: inside a transaction, another transaction wrote first.
_WRITE_CONFLICT = 112
#: the update operator of each commutative operation.
_OPERATORS = {"inc": "$inc", "add_to_set": "$addToSet", "max": "$max", "min": "$min"}


@dataclass(frozen=True, slots=True)
class Op:
    """One collection method call: ``getattr(collection, name)(*args, **kwargs)``.

    ``tombstones``: on the tombstone collection (``occ_tombstones``) instead;
    ``outbox``: on the repository's outbox collection instead (see :mod:`occ.sync`).
    """

    name: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    tombstones: bool = False
    outbox: bool = False


Plan = Generator[Op, Any, Any]


def _unknown_outcome(exc: BaseException) -> bool:
    """The write may or may not have applied: the connection failed after sending it."""
    if isinstance(exc, ConnectionFailure):
        return True
    return isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError")


def _is_write_conflict(exc: BaseException) -> bool:
    return isinstance(exc, OperationFailure) and exc.code == _WRITE_CONFLICT


def _duplicate_index(exc: DuplicateKeyError) -> str:
    """``"_id"``, ``"other"`` or ``"unknown"``: which unique index an insert violated."""
    details = exc.details or {}
    pattern = details.get("keyPattern")
    if isinstance(pattern, Mapping):
        return "_id" if list(pattern) == ["_id"] else "other"
    message = str(details.get("errmsg", exc))
    if " index: _id_ " in message:
        return "_id"
    return "unknown"


def _encoding_error(exc: BaseException) -> bool:
    """The BSON encoder refused a value (nothing was sent)."""
    if isinstance(exc, BSONError | OverflowError):
        return True
    return isinstance(exc, ValueError) and "encode" in str(exc)


class Commands:
    """Builds the filters, updates and plans of one :class:`DocumentMap`."""

    def __init__(self, docs: DocumentMap, *, tombstones: bool = True) -> None:
        self.docs = docs
        #: keep each deleted key's last version so that its versions never repeat.
        self.tombstones = tombstones
        self._shard = {name: {"$eq": value} for name, value in docs.shard_key.items()}

    # -- filters and updates -------------------------------------------------

    def key_filter(self, key: Any) -> dict[str, Any]:
        """``{_id: {$eq: key}, <shard key>}``: ``$eq`` keeps a dict key from being an operator."""
        return {"_id": {"$eq": key}, **self._shard}

    def guard(self, key: Any, expected: Version) -> dict[str, Any]:
        """The key filter plus the expected version (unversioned 0 also matches a missing field)."""
        if type(expected) is not int:  # the last line of defence: never an operator
            raise ValidationError(f"expected version must be an int, got {expected!r}")
        version: Any = {"$in": [None, 0]} if expected == 0 else {"$eq": expected}
        return {**self.key_filter(key), self.docs.version_field: version}

    def update_doc(
        self, changes: Mapping[str, Any], base: Record | None, new: Version, token: str
    ) -> dict[str, Any]:
        """``$set`` (and ``$unset``) by dotted paths that the library builds from the values.

        ``base`` is the stored record at the expected version, when known: a
        nested dict is then updated field by field; otherwise each changed
        top-level field is set whole. Field names were validated, so a path
        never holds ``$`` or ``.`` from data.
        """
        sets: dict[str, Any] = {}
        unsets: dict[str, str] = {}
        for name, value in changes.items():
            old = base.get(name, _ABSENT) if base is not None else _ABSENT
            _paths(name, old, value, sets, unsets)
        sets[self.docs.version_field] = new
        update: dict[str, Any] = {"$set": sets, "$push": self._push(token)}
        if unsets:
            update["$unset"] = unsets
        return update

    def _push(self, token: str) -> dict[str, Any]:
        """Keep ``token`` first among the document's last ``TOKEN_WINDOW`` write tokens."""
        entry = {"$each": [token], "$position": 0, "$slice": TOKEN_WINDOW}
        return {self.docs.token_field: entry}

    # -- plans ---------------------------------------------------------------

    def read_raw(self, key: Any) -> Op:
        return Op("find_one", (self.key_filter(key),))

    def read_plan(self, key: Any) -> Plan:
        """Read by key (the driver reads the primary); returns ``Stored | None``."""
        doc = yield self.read_raw(key)
        return None if doc is None else self.docs.stored(doc)

    def write_plan(self, step: Write, *, in_transaction: bool) -> Plan:
        """One conditional write; returns :class:`Applied`, :class:`Missed` or :class:`Lost`.

        ``step.base``, the stored record at the expected version when the flow
        knows it, turns nested changes into dotted paths. A connection that
        failed after the command may have reached the server is a lost reply:
        the flow establishes whether it applied, by the write's token. Inside a
        transaction the caller's transaction handles that: it is raised.
        """
        token = step.token or new_token()
        op = self._write_op(step, token)
        first: int | None = None
        fresh_tombstone = False
        if self.tombstones and step.action == "insert" and not step.fresh:
            # A key inserted again starts past its last version (see tombstone_doc()).
            found = yield Op("find_one", (self._tombstone_filter(step.key),), tombstones=True)
            if found is not None:
                first = int(found.get("version", 0)) + 1
                op.args[0][self.docs.version_field] = first
        elif self.tombstones and step.action == "delete":
            # First the tombstone, then the delete: a crash in between leaves a tombstone
            # too many (harmless), never one too few.
            marked = yield self._tombstone_op(step)
            fresh_tombstone = getattr(marked, "upserted_id", None) is not None
        try:
            result = yield op
        except Exception as exc:
            if _encoding_error(exc):
                raise ValidationError(
                    f"{self.docs.name}: a value cannot be stored in BSON: {exc}"
                ) from exc
            if isinstance(exc, DuplicateKeyError) and step.action == "insert":
                return (yield from self._duplicate(exc, step))
            if _is_write_conflict(exc):
                return Missed(serialization=True)
            if not in_transaction and _unknown_outcome(exc):
                return Lost()
            raise
        outcome = self._outcome(step, result)
        if first is not None and isinstance(outcome, Applied):
            return Applied(outcome.key, first, outcome.record)
        if fresh_tombstone and isinstance(outcome, Missed):
            # Nothing was deleted: take back the tombstone this attempt created.
            guard = {**self._tombstone_filter(step.key), "version": step.expected_version}
            yield Op("delete_one", (guard,), tombstones=True)
        return outcome

    def tombstone_id(self, key: Any) -> str:
        """The tombstone's ``_id``: the entity and the key in canonical extended JSON."""
        return f"{self.docs.name}:{json_util.dumps(key, sort_keys=True)}"

    def _tombstone_filter(self, key: Any) -> dict[str, Any]:
        return {"_id": {"$eq": self.tombstone_id(key)}}

    def _tombstone_op(self, step: Write) -> Op:
        """Upsert the key's tombstone at (at least) the version about to be deleted."""
        update = {
            "$max": {"version": step.expected_version},
            "$set": {"entity": self.docs.name},
            "$currentDate": {"deleted_at": True},
        }
        return Op("update_one", (self._tombstone_filter(step.key), update), {"upsert": True}, True)

    def commutative_update(self, ops: Mapping[str, FieldOp], token: str) -> dict[str, Any]:
        """``$inc`` (the version too), ``$addToSet``, ``$max``, ``$min`` of the fast path's
        operations, and ``$set`` of the write token. Field names were validated."""
        update: dict[str, dict[str, Any]] = {"$inc": {self.docs.version_field: 1}}
        for name, op in ops.items():
            value = {"$each": list(op.value)} if op.kind == "add_to_set" else op.value
            update.setdefault(_OPERATORS[op.kind], {})[name] = value
        update["$push"] = self._push(token)
        return update

    def _write_op(self, step: Write, token: str) -> Op:
        docs = self.docs
        if step.action == "insert":
            doc = {"_id": step.key, **step.changes}
            doc[docs.version_field] = step.new_version
            doc[docs.token_field] = [token]
            return Op("insert_one", (doc,))
        if step.action == "commute":
            # The commutative fast path: atomic operators, no version predicate.
            update = self.commutative_update(step.changes, token)
            return Op(
                "find_one_and_update",
                (self.key_filter(step.key), update),
                {"return_document": ReturnDocument.AFTER},
            )
        assert step.expected_version is not None
        guard = self.guard(step.key, step.expected_version)
        if step.action == "delete":
            return Op("delete_one", (guard,))
        assert step.new_version is not None
        update = self.update_doc(step.changes, step.base, step.new_version, token)
        if step.returning:
            return Op(
                "find_one_and_update",
                (guard, update),
                {"return_document": ReturnDocument.AFTER},
            )
        return Op("update_one", (guard, update))

    def _outcome(self, step: Write, result: Any) -> Applied | Missed:
        if step.action == "insert":
            assert step.new_version is not None
            return Applied(step.key, step.new_version, dict(step.changes))
        if step.action == "delete":
            assert step.expected_version is not None
            return Applied(step.key, step.expected_version) if result.deleted_count else Missed()
        if step.returning or step.action == "commute":
            if result is None:
                return Missed()
            stored = self.docs.stored(result)
            return Applied(stored.key, stored.version, stored.record)
        assert step.new_version is not None
        return Applied(step.key, step.new_version) if result.matched_count else Missed()

    def _duplicate(self, exc: DuplicateKeyError, step: Write) -> Generator[Op, Any, Missed]:
        """An insert's duplicate key: its key taken (a miss), or another unique index (raised)."""
        which = _duplicate_index(exc)
        if which == "_id":
            return Missed(duplicate=True)
        if which == "other":
            raise exc
        # A server that does not say which index: is the key taken?
        doc = yield self.read_raw(step.key)
        if doc is not None:
            return Missed(duplicate=True)
        raise exc


_ABSENT = object()


def _paths(path: str, old: Any, new: Any, sets: dict[str, Any], unsets: dict[str, str]) -> None:
    """Dotted ``$set``/``$unset`` entries turning ``old`` into ``new`` at ``path``."""
    if isinstance(old, Mapping) and isinstance(new, Mapping) and old and new:
        for name, value in new.items():
            if name not in old:
                sets[f"{path}.{name}"] = value
            else:
                _paths(f"{path}.{name}", old[name], value, sets, unsets)
        for name in old:
            if name not in new:
                unsets[f"{path}.{name}"] = ""
        return
    if old is _ABSENT or not same(old, new):
        sets[path] = new
