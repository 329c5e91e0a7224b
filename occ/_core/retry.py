"""Bounded retries with exponential backoff and jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from occ.errors import ConflictError, DeletedError, RetryExhaustedError, ValidationError

__all__ = ["RetryPolicy", "backoff_or_raise", "retries_conflict"]


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a conflicting write is tried, and how long to wait between tries.

    The delay before attempt ``n`` (n >= 2) is drawn uniformly from
    ``[0, min(max_delay, base_delay * multiplier ** (n - 2))]`` ("full jitter"):
    writers that collided once spread out instead of colliding again.

    Args:
        attempts: total writes allowed, the first included (>= 1).
        base_delay: upper bound of the first backoff, in seconds.
        max_delay: cap on any single backoff, in seconds.
        multiplier: growth of the upper bound per attempt.
        seed: makes the jitter reproducible (tests, schedules).
    """

    attempts: int = 10
    base_delay: float = 0.001
    max_delay: float = 0.1
    multiplier: float = 2.0
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.attempts) is not int or self.attempts < 1:
            raise ValidationError(f"attempts must be an int >= 1, got {self.attempts!r}")
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValidationError(
                "base_delay and max_delay must be >= 0 and multiplier >= 1, got "
                f"{self.base_delay!r}, {self.max_delay!r}, {self.multiplier!r}"
            )
        object.__setattr__(self, "_rng", random.Random(self.seed))

    def ceiling(self, attempt: int) -> float:
        """The largest delay before ``attempt`` (0 for the first)."""
        if attempt <= 1:
            return 0.0
        return float(min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 2)))

    def delay(self, attempt: int) -> float:
        """A jittered delay before ``attempt``, within ``[0, ceiling(attempt)]``."""
        top = self.ceiling(attempt)
        return self._rng.uniform(0.0, top) if top > 0 else 0.0


def retries_conflict(exc: BaseException) -> bool:
    """Whether a transaction that failed with ``exc`` may pass when run again from fresh
    reads, as far as occ's own errors tell: any conflict but a deleted row (no retry
    brings it back). The transaction helpers add their backend's transient errors."""
    return isinstance(exc, ConflictError) and not isinstance(exc, DeletedError)


def backoff_or_raise(exc: BaseException, attempt: int, policy: RetryPolicy) -> float:
    """After attempt ``attempt`` of a transaction failed with the retryable ``exc``: the
    backoff before the next attempt, or, the budget spent, :class:`RetryExhaustedError`
    (``exc`` itself when it carries no conflict, a deadlock say)."""
    if attempt >= policy.attempts:
        conflict = getattr(exc, "conflict", None)
        if conflict is not None:
            raise RetryExhaustedError(conflict, attempt) from exc
        raise exc
    return policy.delay(attempt + 1)
