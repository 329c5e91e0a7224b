"""Bring existing tables and collections under versioning.

- :func:`backfill_versions` (SQL, needs ``occ[sql]``) gives rows without a
  version the first one, in short batches, each committed on its own.
- :mod:`occ.migrations.alembic` (needs ``occ[migrations]``) registers the
  Alembic operation ``op.add_version_column(...)``: add the column, then backfill.
- :func:`backfill_mongo_versions` does the same for a MongoDB collection.

All are idempotent and resumable: they only touch rows or documents that
have no version yet, so running one again (or after an interruption) only
finishes the work.
"""

from __future__ import annotations

from typing import Any

from occ.migrations._mongo import backfill_mongo_versions

__all__ = ["backfill_mongo_versions", "backfill_versions"]


def __getattr__(name: str) -> Any:
    # The SQL helper needs SQLAlchemy; the MongoDB one must not.
    if name == "backfill_versions":
        from occ.migrations._sql import backfill_versions

        return backfill_versions
    raise AttributeError(f"module 'occ.migrations' has no attribute {name!r}")
