"""Conflict alerting and archiving: events, sinks and conflict stores.

- :class:`ConflictEvent`: what a sink receives; :class:`StoredConflict`: what a
  store returns.
- Sinks: :class:`LoggingSink`, :class:`CallbackSink`, :class:`MetricsSink`
  (OpenTelemetry, optional), :class:`WebhookSink` and :class:`EmailSink`
  (rate limited, digests, links to the review app), or any callable of a
  :class:`ConflictEvent`.
- Stores: :class:`occ.conflicts.sql.ConflictStore` /
  :class:`~occ.conflicts.sql.AsyncConflictStore` (a SQL table) and the
  MongoDB collection store in :mod:`occ.conflicts.mongo`.

Importing this package imports no database driver.
"""

from __future__ import annotations

from occ.conflicts._archive import ArchivedEnum
from occ.conflicts._delivery import ConflictArchive, Sink
from occ.conflicts._query import Filter, parse_age
from occ.conflicts._records import ArchiveError, ConflictEvent, Status, StoredConflict
from occ.conflicts._settle import StaleResolutionError
from occ.conflicts.mail import EmailSink
from occ.conflicts.sinks import CallbackSink, LoggingSink, MetricsSink
from occ.conflicts.webhook import WebhookSink

__all__ = [
    "ArchiveError",
    "ArchivedEnum",
    "CallbackSink",
    "ConflictArchive",
    "ConflictEvent",
    "EmailSink",
    "Filter",
    "LoggingSink",
    "MetricsSink",
    "Sink",
    "StaleResolutionError",
    "Status",
    "StoredConflict",
    "WebhookSink",
    "parse_age",
]
