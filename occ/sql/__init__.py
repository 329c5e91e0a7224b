"""SQL backend: versioned repositories over SQLAlchemy 2.x (SQLite, MySQL/MariaDB, PostgreSQL).

Install with ``pip install 'occ[sql]'``.
"""

from __future__ import annotations

try:
    import sqlalchemy  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("occ.sql needs SQLAlchemy: pip install 'occ[sql]'") from exc

from occ.sql._async.repository import AsyncRepository
from occ.sql._async.transaction import atransaction
from occ.sql._dberrors import is_serialization_failure
from occ.sql._engines import adispose, dispose
from occ.sql._sync.repository import Repository
from occ.sql._sync.transaction import transaction

__all__ = [
    "AsyncRepository",
    "Repository",
    "adispose",
    "atransaction",
    "dispose",
    "is_serialization_failure",
    "transaction",
]
