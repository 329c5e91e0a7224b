"""Versioned flushes for SQLAlchemy ORM sessions (and SQLModel models).

Opt a mapped class in, and the code that loads, changes and commits objects
through a ``Session`` stays as it is; only its writes change::

    occ.orm.versioned(Order)                      # one line, or a decorator
    class Note(occ.orm.VersionedMixin, Base): ... # or a mixin

Each UPDATE of an opted-in object becomes one conditional statement
(``... WHERE pk = :pk AND version = :expected``) run by `occ` on the flush's
connection (one more per joined subclass table, after the base table's, which
carries the check). A stale flush raises :class:`~occ.ConflictError` carrying
the full :class:`~occ.Conflict` (never SQLAlchemy's bare ``StaleDataError``),
or is resolved by the class's policy (``Discard`` refreshes the object to the
stored row, ``Overwrite`` writes again at the stored version, ...).

The expected version is the version the object was loaded with, unless the
application sets the version attribute itself (a version sent back by a
client, or ``session.merge()`` of a client's object): then *that* version is
expected. SQLAlchemy's own ``version_id_col`` ignores such a value and checks
the loaded one, accepting the stale client write.

A DELETE first checks and bumps the version with a conditional UPDATE in the
same transaction, then lets SQLAlchemy delete the row it has locked. Subclasses
(single-table and joined-table inheritance), column ``onupdate`` and
``server_onupdate`` values, row switches, ``post_update`` relationships and
bulk writes are covered too: see the adoption guide.

Importing ``occ.orm`` installs its hooks once, for every mapper and session
(flush events, ``before_flush``, ``do_orm_execute``, ``after_begin``) and
connection (``before_execute``, to refuse the legacy bulk API on versioned
classes); each returns at once for a class that is not versioned.
"""

from __future__ import annotations

try:
    import sqlalchemy  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("occ.orm needs SQLAlchemy: pip install 'occ[sql]'") from exc

from occ.orm import _bulk, _flush  # noqa: F401 - they register the session and flush hooks
from occ.orm._registry import VersionedMixin, is_versioned, versioned

__all__ = ["VersionedMixin", "is_versioned", "versioned"]
