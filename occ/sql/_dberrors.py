"""Classify driver errors: which are conflicts, which are duplicate keys."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from occ.sql._mapping import EntityMap

__all__ = ["aborts_transaction", "is_duplicate_key", "is_serialization_failure"]

#: MariaDB 1020 "Record has changed since last read" (innodb_snapshot_isolation),
#: 1213 deadlock: the transaction was rolled back; a retry from a fresh read may pass.
_MYSQL_CONFLICT_CODES = frozenset({1020, 1213})
#: PostgreSQL serialization_failure and deadlock_detected.
_PG_CONFLICT_STATES = frozenset({"40001", "40P01"})


def _sqlstate(orig: Any) -> str | None:
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def _mysql_code(orig: Any) -> int | None:
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def is_serialization_failure(exc: BaseException) -> bool:
    """True when a database error means a concurrent write made it abort the transaction.

    PostgreSQL's serialization failure and deadlock (SQLSTATE 40001, 40P01);
    MariaDB/MySQL's deadlock (1213) and snapshot-isolation conflict (1020).
    On a Galera cluster, a transaction that lost certification to one
    committed through another node fails with 1213 too — at any statement,
    or at its COMMIT. SQLite's "database is locked" (SQLITE_BUSY) counts too:
    a writer that could deadlock on the database lock is refused at once, and
    its statement did not apply. Nothing of the transaction was applied: run
    it again from fresh reads. ``occ`` itself reports these as conflicts; this
    tells them apart in your own code (e.g. around ``session.commit()``).

    Args:
        exc: any exception; only SQLAlchemy's ``DBAPIError`` can be one.
    """
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = exc.orig
    if _sqlstate(orig) in _PG_CONFLICT_STATES:
        return True
    if _mysql_code(orig) in _MYSQL_CONFLICT_CODES:
        return True
    return type(orig).__module__ == "sqlite3" and "database is locked" in str(orig)


def is_lock_timeout(exc: BaseException) -> bool:
    """True when a statement gave up waiting for a lock another transaction holds.

    PostgreSQL's ``lock_not_available`` (SQLSTATE 55P03: ``lock_timeout`` or
    ``NOWAIT``) and MariaDB/MySQL's lock wait timeout (1205).
    """
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    return _sqlstate(exc.orig) == "55P03" or _mysql_code(exc.orig) == 1205


def aborts_transaction(exc: sa.exc.DBAPIError, dialect_name: str) -> bool:
    """True when the error ended the transaction it happened in (not only the statement).

    PostgreSQL aborts the transaction on any failed statement; MySQL/MariaDB roll
    it back on a deadlock or a snapshot-isolation conflict.
    """
    if dialect_name == "postgresql":
        return True
    return _mysql_code(exc.orig) in _MYSQL_CONFLICT_CODES


def is_duplicate_key(exc: sa.exc.IntegrityError, entity: EntityMap) -> bool:
    """True when an insert failed on the primary key (not on another unique index)."""
    orig = exc.orig
    code = _mysql_code(orig)
    if code is not None and code != 1062:
        return False
    message = str(orig)
    if code == 1062:
        return "PRIMARY'" in message
    state = _sqlstate(orig)
    if state is not None:
        if state != "23505":
            return False
        name = getattr(getattr(orig, "diag", None), "constraint_name", None) or getattr(
            orig, "constraint_name", None
        )
        pk_name = entity.table.primary_key.name or f"{entity.table.name}_pkey"
        return name is None or name == pk_name
    # SQLite: "UNIQUE constraint failed: t.a, t.b" names the columns of the index.
    if "UNIQUE constraint failed" in message:
        failed = {part.strip().split(".")[-1] for part in message.split(":", 1)[1].split(",")}
        return failed == {c.name for c in entity.key_columns}
    return False
