"""What a notification says: a subject, plain text and JSON items, each linking to its page.

Messages name the entity, the key, the changed fields and what happened,
never the values themselves (they may be personal data, and a chat channel
or a mailbox is not the place for them): the link opens the conflict's page.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from occ.conflicts._courier import Batch
from occ.conflicts._records import ConflictEvent, to_jsonable

__all__ = ["conflict_url", "items", "subject", "text"]


def conflict_url(review_url: str | None, event: ConflictEvent) -> str | None:
    """The address of the conflict's review page (the list's, when it was not stored)."""
    if review_url is None:
        return None
    base = review_url.rstrip("/")
    return f"{base}/c/{event.conflict_id}" if event.conflict_id else f"{base}/"


def _key(event: ConflictEvent) -> str:
    text = json.dumps(to_jsonable(event.conflict.key))
    return text if len(text) <= 40 else text[:39] + "…"


def _line(event: ConflictEvent, review_url: str | None) -> str:
    c = event.conflict
    changed = ", ".join(sorted(c.changes)) or "nothing"
    line = f"{c.entity} {_key(event)}: {c.kind} conflict, {event.outcome}; changed {changed}"
    url = conflict_url(review_url, event)
    return f"{line}\n  {url}" if url else line


def subject(batch: Batch, prefix: str = "[occ]") -> str:
    """One line: the conflict, or how many and on which entities."""
    if batch.total == 1:
        c = batch.events[0].conflict
        return f"{prefix} conflict on {c.entity} {_key(batch.events[0])}"
    by_entity = Counter(e.conflict.entity for e in batch.events)
    names = [name for name, _ in by_entity.most_common(3)]
    more = ", ..." if len(by_entity) > 3 or batch.more else ""
    return f"{prefix} {batch.total} conflicts on {', '.join(names)}{more}"


def text(batch: Batch, review_url: str | None) -> str:
    """The message's body: one paragraph a conflict, and how many more there were."""
    lines = [_line(e, review_url) for e in batch.events]
    if batch.more:
        lines.append(f"... and {batch.more} more")
    if review_url is not None and batch.total > 1:
        lines.append(f"Review them: {review_url.rstrip('/')}/")
    return "\n".join(lines)


def items(batch: Batch, review_url: str | None) -> list[dict[str, Any]]:
    """One JSON object per conflict listed: id, entity, key, kind, outcome, changed, url."""
    return [
        {
            "id": e.conflict_id,
            "entity": e.conflict.entity,
            "key": to_jsonable(e.conflict.key),
            "kind": e.conflict.kind,
            "outcome": e.outcome,
            "changed": sorted(e.conflict.changes),
            "url": conflict_url(review_url, e),
        }
        for e in batch.events
    ]
