"""Batch reads and writes as plans (pure): what a ``ReadMany`` or ``WriteMany`` sends on SQL.

Each plan yields a constant number of statements per batch (per
:attr:`~occ.sql._bulk_statements.BulkStatements.rows` rows) and attributes
every row's outcome to its write from what the statements return:

==========  ======================================  ==================================
write       PostgreSQL, SQLite                      MariaDB / MySQL (one transaction)
==========  ======================================  ==================================
update      ``UPDATE … FROM <rows> RETURNING``      ``SELECT … FOR UPDATE`` of the keys,
                                                    ``UPDATE t, <rows> SET …`` of the
                                                    rows that match
delete      ``DELETE … RETURNING`` (PostgreSQL:     ``DELETE … RETURNING`` + tombstones
            tombstones in the same statement;       (MariaDB)
            SQLite: + tombstones, one transaction)
insert      ``INSERT … ON CONFLICT (key) DO         ``INSERT … RETURNING`` (a taken key
            NOTHING RETURNING``                     fails the statement: the driver
                                                    reads which keys are taken, sends
                                                    the rest again)
read        ``SELECT … WHERE key IN (…)``           the same
==========  ======================================  ==================================

On MariaDB the locking read tells which rows match before the update: it has
no ``UPDATE … RETURNING``, and a row count alone cannot say which rows
matched. The rows it locks cannot change before the update, so the update
writes exactly those. Timestamp versions, the commutative fast path, MySQL
without ``RETURNING`` and inserts mixing given and generated keys fall back
to one statement per item (:meth:`BulkRecords.supports`), and so do a class over
joined tables (joined inheritance) and an entity with an outbox (each write
and its change event, see :mod:`occ.sync`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from occ._core.bulk import identity
from occ._core.steps import Applied, Missed, Stored, Write
from occ.sql._bulk_statements import BulkStatements, bucket
from occ.sql._records import Plan, SQLRecords
from occ.sql._tombstones import key_text

__all__ = ["BulkRecords", "match"]


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _loose(key: Any) -> Any:
    """A key compared as a case-insensitive collation would (MySQL's default)."""
    if isinstance(key, str):
        return key.casefold()
    if isinstance(key, tuple):
        return tuple(_loose(part) for part in key)
    return identity(key)


def match(keys: Sequence[Any], rows: Sequence[Stored]) -> list[Stored | None]:
    """The row of each key, or ``None``: by equal key, else (a collation that ignores
    case matched it) by the only row whose key differs in case alone."""
    exact = {identity(row.key): row for row in rows}
    out = [exact.get(identity(key)) for key in keys]
    if len(rows) > sum(row is not None for row in out):
        used = {id(row) for row in out if row is not None}
        loose: dict[Any, list[Stored]] = {}
        for row in rows:
            if id(row) not in used:
                loose.setdefault(_loose(row.key), []).append(row)
        for i, key in enumerate(keys):
            candidates = loose.get(_loose(key), [])
            if out[i] is None and len(candidates) == 1:
                out[i] = candidates[0]
    return out


class BulkRecords:
    """Plans of batch reads and writes of one :class:`SQLRecords`."""

    def __init__(self, records: SQLRecords) -> None:
        self.records = records
        self.entity = records.entity
        self.st = records.statements
        self.tombstones = records.tombstones
        self.statements = BulkStatements(self.st, self.tombstones)
        self.name = self.st.dialect.name
        #: inserts under keys the database assigns return their rows in order (SQLAlchemy
        #: refuses that for some key columns, e.g. a nullable one: then one per item).
        self.ordered_inserts = True
        #: the rows of an updated row can be computed (no column changes on its own).
        self._computable = not any(
            c.onupdate is not None or c.server_onupdate is not None or c.computed is not None
            for c in self.entity.table.columns
        )

    def supports(self, writes: Sequence[Write]) -> bool:
        """Whether these writes go as a batch (else: one statement per item)."""
        records = self.records
        if self.entity.versions.name != "int" or self.entity.joined:
            return False  # timestamps; joined inheritance (several tables per write)
        if records.outbox is not None:
            return False  # each write and its change event (see occ.sync)
        action = writes[0].action
        if action == "update":  # UPDATE ... FROM and RETURNING, except on MySQL (locked)
            return self.name == "mysql" or bool(getattr(self.st.dialect, "update_returning", 0))
        if action == "delete":
            return self.name != "mysql" or bool(getattr(self.st.dialect, "delete_returning", 0))
        if action == "insert":
            keyed = {w.key is not None for w in writes}
            # (read now: a dialect knows it is MariaDB only once it has connected)
            if not getattr(self.st.dialect, "insert_returning", False) or len(keyed) != 1:
                return False
            return keyed == {True} or self.ordered_inserts
        return False

    def needs_transaction(self, writes: Sequence[Write]) -> bool:
        """Whether the plan has several statements that must run in one transaction."""
        action = writes[0].action
        if action == "update":
            return self.name == "mysql"
        if action == "delete":
            return self.tombstones is not None and self.name != "postgresql"
        return False

    # -- reads ------------------------------------------------------------------------

    def read_plan(self, keys: Sequence[Any], *, locking: bool | str = False) -> Plan:
        """Read ``keys`` (``rows`` at a time); returns one ``Stored | None`` per key."""
        bulk = self.statements
        out: list[Stored | None] = []
        for chunk in _chunks(range(len(keys)), bulk.rows):
            wanted = [keys[i] for i in chunk]
            result = yield bulk.read(locking=locking), bulk.keys_params(wanted)
            out += match(wanted, [self.entity.from_row(row) for row in result.fetchall()])
        return out

    # -- writes -----------------------------------------------------------------------

    def write_plan(self, writes: Sequence[Write]) -> Plan:
        """Send ``writes`` (one action, :meth:`supports`); returns one outcome per write."""
        out: list[Any] = [None] * len(writes)
        action = writes[0].action
        groups: dict[Any, list[int]] = {}
        for i, w in enumerate(writes):
            shape = (tuple(w.changes), w.returning) if action != "delete" else ()
            groups.setdefault(shape, []).append(i)
        for shape, indexes in groups.items():
            for chunk in _chunks(indexes, self.statements.rows):
                batch = [writes[i] for i in chunk]
                if action == "update":
                    fields, returning = shape
                    done = yield from self._update(batch, fields, returning)
                elif action == "delete":
                    done = yield from self._delete(batch)
                else:
                    done = yield from self._insert(batch, shape[0])
                for i, outcome in zip(chunk, done, strict=True):
                    out[i] = outcome
        return out

    def _update(self, writes: list[Write], fields: tuple[str, ...], returning: bool) -> Plan:
        bulk = self.statements
        if self.name == "mysql":
            return (yield from self._update_locked(writes, fields, returning))
        n = None if bulk.unnest else bucket(len(writes), bulk.rows)
        cols = bulk.row_types(fields)
        rows = [bulk.row_of(w, fields) for w in writes]
        stmt = bulk.update(fields, returning=returning, n=n)
        result = yield stmt, bulk.rows_params(cols, rows, n)
        if returning:
            stored = [self.entity.from_row(row) for row in result.fetchall()]
        else:
            width = len(self.entity.key_columns)
            stored = [self._key_only(row, width) for row in result.fetchall()]
        found = match([w.key for w in writes], stored)
        return [_outcome(w, s, returning) for w, s in zip(writes, found, strict=True)]

    @staticmethod
    def _key_only(row: Any, width: int) -> Stored:
        return Stored(row[0] if width == 1 else tuple(row[:width]), 0, {})

    def _update_locked(self, writes: list[Write], fields: tuple[str, ...], returning: bool) -> Plan:
        """MariaDB/MySQL: lock the rows, update those at the expected version (see module)."""
        bulk = self.statements
        entity = self.entity
        result = yield bulk.read(locking="update"), bulk.keys_params([w.key for w in writes])
        current = match([w.key for w in writes], [entity.from_row(r) for r in result.fetchall()])
        matching = [
            i
            for i, (w, s) in enumerate(zip(writes, current, strict=True))
            if s is not None and s.version == w.expected_version
        ]
        if matching:
            n = bucket(len(matching), bulk.rows)
            rows = [bulk.row_of(writes[i], fields) for i in matching]
            params = bulk.rows_params(bulk.row_types(fields), rows, n)
            result = yield bulk.update(fields, returning=False, n=n), params
            if result.rowcount != len(matching):
                raise RuntimeError(
                    f"{entity.name}: {result.rowcount} rows updated of the {len(matching)} locked "
                    "at their expected version; the transaction is rolled back"
                )
        after: list[Stored | None] = list(current)
        if returning and matching and not self._computable:
            keys = [writes[i].key for i in matching]
            read = yield from self.read_plan(keys)
            for i, stored in zip(matching, read, strict=True):
                after[i] = stored
        elif returning:
            for i in matching:
                before = current[i]
                new = writes[i].new_version
                assert before is not None
                assert new is not None
                after[i] = Stored(before.key, new, {**before.record, **writes[i].changes})
        chosen = set(matching)
        return [
            _outcome(w, after[i] if i in chosen else None, returning) for i, w in enumerate(writes)
        ]

    def _delete(self, writes: list[Write]) -> Plan:
        bulk = self.statements
        tomb = self.tombstones
        result = yield bulk.delete(), bulk.delete_params(writes)
        returned = result.fetchall()
        if bulk.unnest and tomb is not None:
            gone = {row[0] for row in returned}
            deleted = [key_text(w.key) in gone for w in writes]
        else:
            width = len(self.entity.key_columns)
            keys = [self._key_only(row, width) for row in returned]
            deleted = [s is not None for s in match([w.key for w in writes], keys)]
        if tomb is not None and not bulk.unnest and any(deleted):
            params = [
                tomb.record_params(w.key, w.expected_version)
                for w, done in zip(writes, deleted, strict=True)
                if done
            ]
            yield tomb.upsert, params
        return [_deleted(w) if done else Missed() for w, done in zip(writes, deleted, strict=True)]

    def _insert(self, writes: list[Write], fields: tuple[str, ...]) -> Plan:
        st = self.st
        tomb = self.tombstones
        keyed = writes[0].key is not None
        first = self.records._first if tomb is not None else None
        stmt, binds = self.statements.insert(fields, keyed=keyed, first_version=first)
        params = []
        for w in writes:
            p = st.params(None, binds, w.changes, new=w.new_version, token=w.token)
            if keyed and tomb is not None:
                p.update(tomb.params(w.key))
            params.append(p)
        result = yield stmt, params
        stored = [self.entity.from_row(row) for row in result.fetchall()]
        if not keyed:
            return [Applied(s.key, s.version, s.record) for s in stored]
        found = match([w.key for w in writes], stored)
        return [
            Missed(duplicate=True) if s is None else Applied(s.key, s.version, s.record)
            for s in found
        ]


def _outcome(write: Write, stored: Stored | None, returning: bool) -> Applied | Missed:
    if stored is None:
        return Missed()
    if returning:
        return Applied(stored.key, stored.version, stored.record)
    assert write.new_version is not None
    return Applied(write.key, write.new_version, based_on=write.expected_version)


def _deleted(write: Write) -> Applied:
    assert write.expected_version is not None
    return Applied(write.key, write.expected_version, based_on=write.expected_version)
