"""occ: optimistic concurrency for SQLAlchemy and MongoDB.

Every write carries the version the writer read and is applied only if that
version is still current; a stale write becomes a :class:`Conflict` that the
entity's policy resolves. Backends live in :mod:`occ.sql` and :mod:`occ.mongo`;
this package imports no database driver.
"""

from __future__ import annotations

from occ import policies, resolvers
from occ._core.batch import BulkResult, Found, ItemResult
from occ._core.model import Conflict, Versioned
from occ._core.retry import RetryPolicy
from occ.errors import (
    AlreadyExistsError,
    BatchAbortedError,
    ConfigurationError,
    ConflictError,
    DeletedError,
    NotFoundError,
    OCCError,
    RetryExhaustedError,
    TransactionAbortedError,
    UnknownOutcomeError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "BatchAbortedError",
    "BulkResult",
    "ConfigurationError",
    "Conflict",
    "ConflictError",
    "DeletedError",
    "Found",
    "ItemResult",
    "NotFoundError",
    "OCCError",
    "RetryExhaustedError",
    "RetryPolicy",
    "TransactionAbortedError",
    "UnknownOutcomeError",
    "ValidationError",
    "Versioned",
    "__version__",
    "policies",
    "resolvers",
]
