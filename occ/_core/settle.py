"""After a lost reply: establish whether a write applied, never apply it twice (pure).

A write whose reply was lost (:class:`~occ._core.steps.Lost`) may or may not
have applied. One read by key decides, using what the stored record says:

- its recent write tokens include ours: it applied (once);
- it still holds the version we expected: it did not apply, and the very same
  write (same values, same token) is sent again — it is conditional, so of
  the original and the resend at most one can ever apply; after a resend that
  misses, the tokens are read again;
- its version moved and its tokens prove ours is not among the writes since:
  it did not apply, and this is an ordinary conflict;
- otherwise (no tokens kept, more writes since than the tokens remember, the
  row deleted since) whether it applied cannot be known:
  :class:`~occ.UnknownOutcomeError`. ``modify`` never runs its function again
  on that path.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator
from typing import Any, Literal

from occ._core.steps import Applied, Lost, Missed, Read, Step, Stored, Write
from occ.errors import UnknownOutcomeError

__all__ = ["TOKEN_WINDOW", "new_token", "settle"]

#: how many recent write tokens a backend keeps per row or document.
TOKEN_WINDOW = 8

Verdict = Literal["applied", "absent", "conflict", "unknown"]


def new_token() -> str:
    """A random write token (64 bits: two writes never share one in practice)."""
    return secrets.token_hex(8)


def _moved_since(step: Write, stored: Stored) -> int | None:
    """How many writes at least happened since the version ``step`` expected, if countable."""
    expected = step.expected_version
    if type(stored.version) is int and type(expected) is int:
        return stored.version - expected
    return None


def judge(step: Write, stored: Stored | None) -> tuple[Verdict, str]:
    """What the stored record says about ``step``: applied, absent (send it again), a
    conflict (did not apply), or unknown; and why."""
    tokens = None if stored is None else stored.tokens
    if stored is not None and tokens is not None and step.token in tokens:
        return "applied", "the stored record carries its token"
    if step.action == "insert":
        if stored is None:
            return "absent", "nothing is stored under the key"
        if tokens is not None and len(tokens) < TOKEN_WINDOW:
            return "conflict", "another insert stored the key"
        return "unknown", "the key is stored and nothing tells whose insert it was"
    if stored is None:
        if step.action == "delete":
            return "applied", "the row is gone"
        return "unknown", "the row was deleted since"
    if step.action == "commute":
        return "unknown", "an atomic increment carries no version to compare"
    if stored.version == step.expected_version:
        return "absent", "the stored version is still the one it expected"
    if step.action == "update" and tokens is not None:
        moved = _moved_since(step, stored)
        within = moved <= TOKEN_WINDOW if moved is not None else len(tokens) < TOKEN_WINDOW
        if within:
            return "conflict", "other writes since, and its token is not among them"
        return "unknown", f"more than {TOKEN_WINDOW} writes since: its token may be gone"
    return "unknown", "the version moved and no write tokens are kept to tell whose write it was"


def settle(step: Write, entity: str) -> Generator[Step, Any, Applied | Missed]:
    """Establish the outcome of ``step``, whose reply was lost.

    Returns the :class:`Applied` result (it applied, exactly once) or a
    :class:`Missed` (it did not, and the stored state is a conflict or, for an
    insert, a taken key). Raises :class:`~occ.UnknownOutcomeError` when it
    cannot be known.
    """
    resent = False
    while True:
        stored = yield Read(step.key, primary=True)
        verdict, why = judge(step, stored)
        if verdict == "applied":
            if stored is None:  # a delete
                version = step.expected_version if step.expected_version is not None else 0
                return Applied(step.key, version, based_on=step.expected_version, settled=True)
            latest = bool(stored.tokens) and stored.tokens[0] == step.token
            if latest or step.new_version is None or step.action == "insert":
                # What is stored is this write's result (or the best that is known of it).
                return Applied(
                    stored.key,
                    stored.version,
                    stored.record,
                    based_on=step.expected_version,
                    settled=True,
                )
            # Others wrote since: report the version this write stored; the flow knows
            # its record (base and changes) better than what is stored now.
            return Applied(
                stored.key, step.new_version, based_on=step.expected_version, settled=True
            )
        if verdict == "conflict":
            return Missed(duplicate=step.action == "insert")
        if verdict == "absent" and not resent:
            resent = True
            outcome = yield step  # the same write, the same token
            if isinstance(outcome, Applied):
                return outcome
            if isinstance(outcome, Missed) and outcome.serialization:
                return outcome
            if isinstance(outcome, Lost):
                why = "its reply was lost twice"
                break
            continue  # missed: did the original land meanwhile? read again
        break
    raise UnknownOutcomeError(entity, step.key, step.expected_version, why)
