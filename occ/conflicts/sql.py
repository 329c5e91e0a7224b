"""Conflict stores in a SQL table: :class:`ConflictStore` (sync) and :class:`AsyncConflictStore`.

The table (default name ``occ_conflicts``; :meth:`ConflictStore.create` makes it):

============================  =================  ===========================================
column                        type               holds
============================  =================  ===========================================
``id``                        VARCHAR(32) PK     a random hex id
``entity``                    VARCHAR(200)       model / table name (indexed with ``status``)
``entity_key``                TEXT (JSON)        the row's key
``action``                    VARCHAR(10)        ``update`` or ``delete``
``kind``                      VARCHAR(20)        ``version``, ``deleted``, ``serialization``
``status``                    VARCHAR(20)        ``pending``, ``discarded``, ``overwritten``,
                                                 ``resolved``
``decision``                  VARCHAR(50)        the decision's label when it happened
``base``, ``mine``,           TEXT (JSON)        the three values and my changed fields
``theirs``, ``changes``
``expected_version``,         TEXT (JSON)        the versions (int or tagged datetime)
``actual_version``
``attempt``                   INTEGER            attempt number of the write
``details``                   TEXT (JSON)        the decision's details (merge entries, ...)
``created_at``                DATETIME(6)        when it was stored (UTC, naive)
``resolved_at``               DATETIME(6) NULL   when :meth:`resolve` settled it
``resolution``                VARCHAR(20) NULL   ``mine``, ``theirs`` or ``values``
============================  =================  ===========================================

JSON values use tags for types JSON lacks (``{"$datetime": ...}``, ``{"$set": [...]}``, ...).
On MySQL/MariaDB the TEXT columns are LONGTEXT.
"""

from __future__ import annotations

from occ.conflicts._async.sql import AsyncConflictStore
from occ.conflicts._sql_table import conflict_table
from occ.conflicts._sync.sql import ConflictStore

__all__ = ["AsyncConflictStore", "ConflictStore", "conflict_table"]
