"""MongoDB backend: versioned repositories over PyMongo (sync and async) and Motor.

Install with ``pip install 'occ[mongo]'``.
"""

from __future__ import annotations

try:
    import pymongo  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("occ.mongo needs PyMongo: pip install 'occ[mongo]'") from exc

from occ.mongo._async.repository import AsyncRepository
from occ.mongo._async.transaction import atransaction
from occ.mongo._sync.repository import Repository
from occ.mongo._sync.transaction import transaction

__all__ = ["AsyncRepository", "Repository", "atransaction", "transaction"]
