"""``upsert``: store a value under its key, guarded by the version it carries (pure).

A value without a version is inserted; its key already taken is a conflict —
the writer expected nothing stored there — that the entity's policy resolves
like any other. A value with a version is an ordinary conditional update of
every field (:func:`~occ._core.flow.write_flow`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from occ._core.decisions import Decision
from occ._core.flow import Flow, FlowConfig, _kept, _take, is_strict, joined_error, send, write_flow
from occ._core.model import Conflict, Record
from occ._core.settle import new_token
from occ._core.steps import Applied, Read, Stored, Write
from occ.errors import AlreadyExistsError, ConflictError

__all__ = ["upsert_flow"]


def upsert_flow(cfg: FlowConfig, key: Any, record: Mapping[str, Any], changes: Record) -> Flow:
    """Insert ``record`` under ``key``; a key already taken is a conflict for the policy.

    The writer expected nothing stored (``expected_version`` ``None``), so a
    stored row is a version conflict that the entity's policy resolves like
    any other: ``Overwrite`` writes ``changes`` at the stored version,
    ``Discard`` keeps it, ``Raise`` raises :class:`~occ.ConflictError`. A row
    deleted between the failed insert and the read is inserted again.
    """
    attempt = 1
    while True:
        step = Write(
            "insert", key, None, cfg.versions.initial(), record, returning=True, token=new_token()
        )
        outcome = yield from send(cfg, step)
        if isinstance(outcome, Applied):
            return outcome
        theirs: Stored | None = yield Read(key, locking=cfg.joined, primary=True)
        if theirs is not None:
            break
        attempt += 1
        if attempt > cfg.retry.attempts:
            raise AlreadyExistsError(cfg.entity, key)
    conflict = Conflict(
        entity=cfg.entity,
        key=key,
        action="update",
        kind="version",
        base=None,
        mine=dict(changes),
        changes=dict(changes),
        theirs=theirs.record,
        expected_version=None,
        actual_version=theirs.version,
        attempt=1,
    )
    if cfg.stats is not None:
        cfg.stats.conflict()
    if cfg.joined:
        raise joined_error(conflict)
    decision = Decision.raise_conflict() if is_strict() else cfg.resolver(conflict)
    yield from _take(cfg, decision)
    if decision.raises:
        raise ConflictError(conflict)
    if decision.values is None:
        return _kept(theirs, decision, 1, decision.alerted)
    written = yield from write_flow(
        cfg,
        action="update",
        key=key,
        expected=theirs.version,
        changes=decision.values,
        base=None,
        returning=True,
        stored=None,
    )
    label = decision.outcome if written.outcome == "written" else written.outcome
    return replace(
        written,
        outcome=label,
        attempts=written.attempts + 1,
        alerted=written.alerted or decision.alerted,
    )
