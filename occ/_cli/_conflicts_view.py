"""How ``occ conflicts`` shows stored conflicts: a list, one side by side, or JSON."""

from __future__ import annotations

import json
from typing import Any

from occ.conflicts import StoredConflict
from occ.conflicts._records import to_jsonable

__all__ = ["as_json", "header", "list_lines", "short", "side_by_side", "summary_row"]

_MISSING = object()


def short(value: Any, width: int = 30) -> str:
    """``value`` as compact JSON text, cut to ``width`` characters."""
    text = "-" if value is _MISSING else json.dumps(to_jsonable(value), sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_row(record: StoredConflict) -> list[str]:
    """id, created, entity, key, kind, status, versions: one conflict in a list."""
    c = record.conflict
    return [
        record.id,
        record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        c.entity,
        short(c.key, 20),
        f"{c.action}/{c.kind}",
        record.status if record.resolution is None else f"{record.status} ({record.resolution})",
        f"v{c.expected_version} -> v{c.actual_version}",
        ", ".join(sorted(c.changes)),
    ]


LIST_COLUMNS = ["id", "created (UTC)", "entity", "key", "what", "status", "versions", "changed"]


def list_lines(records: list[StoredConflict]) -> list[str]:
    """The list as plain, aligned text."""
    rows = [LIST_COLUMNS, *(summary_row(r) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(LIST_COLUMNS))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]


def header(record: StoredConflict) -> list[str]:
    """What, where and when, one fact a line."""
    c = record.conflict
    lines = [
        f"conflict {record.id}",
        f"  entity:   {c.entity}  key: {short(c.key, 60)}",
        f"  what:     {c.action}, {c.kind} conflict at attempt {c.attempt}",
        f"  versions: expected v{c.expected_version}, stored v{c.actual_version}",
        f"  status:   {record.status} (decision: {record.decision})",
        f"  created:  {record.created_at.isoformat(sep=' ')} UTC",
    ]
    if record.resolution is not None:
        when = record.resolved_at.isoformat(sep=" ") if record.resolved_at else "?"
        who = f" by {record.resolved_by}" if record.resolved_by else ""
        detail = record.resolution_detail
        forced = " (forced over a later version)" if detail.get("forced") else ""
        left = f", left at v{detail['version']}" if detail.get("version") is not None else ""
        lines.append(f"  resolved: {record.resolution}{forced}{who} at {when} UTC{left}")
    return lines


def side_by_side(record: StoredConflict) -> tuple[list[str], list[list[str]]]:
    """Columns and rows: each field's base, mine and theirs, and who changed it."""
    c = record.conflict
    base = c.base or {}
    theirs = c.theirs or {}
    fields = list(dict.fromkeys([*base, *c.mine, *theirs]))
    rows = []
    for name in fields:
        b = base.get(name, _MISSING)
        m = c.mine.get(name, _MISSING)
        t = theirs.get(name, _MISSING) if c.theirs is not None else _MISSING
        mine_changed = name in c.changes and m != b
        theirs_changed = c.theirs is not None and t != b
        who = {
            (True, True): "both" if m != t else "both (same)",
            (True, False): "mine",
            (False, True): "theirs",
            (False, False): "",
        }[(mine_changed, theirs_changed)]
        rows.append([name, short(b), short(m), short(t), who])
    if c.base is None:
        rows.append(["(base)", "not recorded", "", "", ""])
    if c.theirs is None:
        rows.append(["(theirs)", "", "", "deleted" if c.deleted else "unknown", ""])
    return ["field", "base", "mine", "theirs", "changed by"], rows


def as_json(record: StoredConflict) -> dict[str, Any]:
    """One stored conflict as JSON-ready data."""
    c = record.conflict
    data: dict[str, Any] = {
        "id": record.id,
        "status": record.status,
        "decision": record.decision,
        "resolution": record.resolution,
        "resolved_by": record.resolved_by,
        "resolution_detail": dict(record.resolution_detail),
        "created_at": record.created_at.isoformat(),
        "resolved_at": record.resolved_at.isoformat() if record.resolved_at else None,
        "entity": c.entity,
        "key": c.key,
        "action": c.action,
        "kind": c.kind,
        "attempt": c.attempt,
        "expected_version": c.expected_version,
        "actual_version": c.actual_version,
        "base": c.base,
        "mine": c.mine,
        "changes": c.changes,
        "theirs": c.theirs,
    }
    return to_jsonable(data)  # type: ignore[no-any-return]
