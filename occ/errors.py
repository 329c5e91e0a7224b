"""Every error `occ` raises derives from :class:`OCCError`.

```
OCCError
├── ValidationError          bad input, rejected before anything is written
├── NotFoundError            no row / document under that key
│   └── DeletedError         (also a ConflictError) deleted after the writer read it
├── AlreadyExistsError       insert of a key that is taken
├── ConflictError            the stored version moved; `.conflict` says how
│   ├── DeletedError
│   ├── RetryExhaustedError  the retry budget ran out; `.conflict` is the last one
│   └── TransactionAbortedError  the database ended the caller's transaction
├── UnknownOutcomeError      a reply was lost and occ cannot tell whether the write applied
├── BatchAbortedError        an all-or-nothing batch failed on another item: nothing written
└── ConfigurationError       a model, column or client that cannot be versioned
```

Errors carry the context that produced them: a :class:`ConflictError` holds the
whole :class:`~occ.Conflict` (base, mine, theirs, versions, attempt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from occ._core.model import Conflict

__all__ = [
    "AlreadyExistsError",
    "BatchAbortedError",
    "ConfigurationError",
    "ConflictError",
    "DeletedError",
    "NotFoundError",
    "OCCError",
    "RetryExhaustedError",
    "TransactionAbortedError",
    "UnknownOutcomeError",
    "ValidationError",
]


class OCCError(Exception):
    """Root of every error raised by `occ`."""


class ValidationError(OCCError, ValueError):
    """Input that `occ` refuses before sending anything to the database."""


class ConfigurationError(OCCError, TypeError):
    """A model, column, client or option that cannot be used for versioned writes."""


class NotFoundError(OCCError, LookupError):
    """No row or document exists under the key.

    Attributes:
        entity: name of the model or table.
        key: the key that was looked up.
    """

    def __init__(self, entity: str, key: Any, message: str | None = None) -> None:
        self.entity = entity
        self.key = key
        super().__init__(message or f"{entity} {key!r} does not exist")


class AlreadyExistsError(OCCError):
    """An insert named a key that is already taken."""

    def __init__(self, entity: str, key: Any) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"{entity} {key!r} already exists; use update() or save() to change it")


class ConflictError(OCCError):
    """A versioned write found another version stored than the one it expected.

    Attributes:
        conflict: everything known about it: base, mine, theirs, versions, attempt.
    """

    def __init__(self, conflict: Conflict, message: str | None = None) -> None:
        self.conflict = conflict
        super().__init__(message or conflict.describe())


class DeletedError(ConflictError, NotFoundError):
    """The row was deleted after the writer read it.

    It is both a :class:`ConflictError` (the writer's view was stale) and a
    :class:`NotFoundError` (there is nothing left to write to).
    """

    def __init__(self, conflict: Conflict) -> None:
        self.conflict = conflict
        self.entity = conflict.entity
        self.key = conflict.key
        OCCError.__init__(self, conflict.describe())


class RetryExhaustedError(ConflictError):
    """Every attempt allowed by the retry policy met a conflict.

    Attributes:
        conflict: the last conflict met.
        attempts: how many writes were tried.
    """

    def __init__(self, conflict: Conflict, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(
            conflict,
            f"gave up after {attempts} attempts (RetryPolicy(attempts={attempts})): every "
            f"attempt met another writer on {conflict.entity} {conflict.key!r}; last conflict: "
            f"{conflict.describe()}. On a hot key: raise the attempts, keep the lock fallback "
            "on (lock_after=), use increment() or a Merge(..., fast_path=True) for counters",
        )


class TransactionAbortedError(ConflictError):
    """A write inside the caller's transaction ended that transaction.

    A serialization failure or a deadlock (PostgreSQL 40001/40P01, MariaDB
    1213/1020), or on PostgreSQL any failed statement (a duplicate key
    included), aborts the whole transaction: the caller's earlier writes in it
    are gone. Unlike a plain version conflict, the transaction cannot go on:
    occ marks the caller's ``Session`` / ``Connection`` so that committing it
    raises this error too, until it is rolled back. Retry the whole
    transaction from a fresh read.

    Attributes:
        conflict: the conflict (kind ``serialization``) that ended it.
    """


class UnknownOutcomeError(OCCError):
    """The reply to a write was lost and occ cannot establish whether it applied.

    occ first tries to find out (the write carries a token that a later read
    recognises, and a write that did not apply is retried); this is raised only
    when that is impossible, e.g. more writers than the token history holds
    wrote since, or the row was deleted. Never retry the write blindly: read the
    current value and decide.

    Attributes:
        entity: name of the model or table.
        key: the key written.
        expected_version: the version the write expected.
        reason: why the outcome cannot be known.
    """

    def __init__(self, entity: str, key: Any, expected_version: Any, reason: str) -> None:
        self.entity = entity
        self.key = key
        self.expected_version = expected_version
        self.reason = reason
        super().__init__(
            f"{entity} {key!r}: the reply to a write expecting version {expected_version!r} was "
            f"lost and whether it applied cannot be known ({reason}); read it again before "
            "deciding to write again"
        )


class BatchAbortedError(OCCError):
    """An all-or-nothing batch (``atomic=True``) failed on another of its items.

    Nothing of the batch was written: the item that carries this error was
    fine, and :attr:`cause` is the error of the item that failed (the first
    one, in input order).

    Attributes:
        index: the position of that failed item in the batch.
        cause: its error.
    """

    def __init__(self, index: int, cause: BaseException) -> None:
        self.index = index
        self.cause = cause
        super().__init__(
            f"not written: the all-or-nothing batch failed at item {index} ({cause}); "
            "nothing of it was written"
        )
