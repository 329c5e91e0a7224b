"""Conflict alerting and archiving: events, sinks and conflict stores.

- :class:`ConflictEvent`: what a sink receives; :class:`StoredConflict`: what a
  store returns.
- Sinks: :class:`LoggingSink`, :class:`CallbackSink`, :class:`MetricsSink`
  (OpenTelemetry, optional), or any callable of a :class:`ConflictEvent`.
- Stores: :class:`occ.conflicts.sql.ConflictStore` /
  :class:`~occ.conflicts.sql.AsyncConflictStore` (a SQL table) and the
  MongoDB collection store in :mod:`occ.conflicts.mongo`.

Importing this package imports no database driver.
"""

from __future__ import annotations

from occ.conflicts._delivery import ConflictArchive, Sink
from occ.conflicts._records import ConflictEvent, Status, StoredConflict
from occ.conflicts.sinks import CallbackSink, LoggingSink, MetricsSink

__all__ = [
    "CallbackSink",
    "ConflictArchive",
    "ConflictEvent",
    "LoggingSink",
    "MetricsSink",
    "Sink",
    "Status",
    "StoredConflict",
]
