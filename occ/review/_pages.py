"""The review app's pages: the filtered list (with counts) and one conflict side by side."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from occ.conflicts import Filter, StoredConflict, parse_age
from occ.conflicts._query import STATUSES
from occ.errors import ValidationError
from occ.review._auth import Reviewer
from occ.review._context import Context
from occ.review._present import editors, field_rows

__all__ = ["conflict_page", "filter_of", "list_page", "visible_record"]

_ID = re.compile(r"^[0-9a-f]{32}$")


def filter_of(params: Any, reviewer: Reviewer) -> tuple[Filter, dict[str, str]]:
    """The store filter of a list's query (or a bulk form), within what ``reviewer`` may see.

    Raises:
        ValidationError: an unknown status or an unreadable age.
    """
    chosen = {
        "status": params.get("status", "open") or "",
        "entity": params.get("entity", "") or "",
        "older_than": params.get("older_than", "") or "",
        "newer_than": params.get("newer_than", "") or "",
    }
    found = Filter.of(
        status=chosen["status"] or None,
        entity=chosen["entity"] or None,
        entities=reviewer.entities,
        older_than=parse_age(chosen["older_than"]) if chosen["older_than"] else None,
        newer_than=parse_age(chosen["newer_than"]) if chosen["newer_than"] else None,
    )
    return found, chosen


async def list_page(ctx: Context, request: Request, reviewer: Reviewer) -> HTMLResponse:
    """``GET /``: open conflicts (or as filtered), their counts, bulk actions and purge."""
    try:
        found, chosen = filter_of(request.query_params, reviewer)
        page = max(1, int(request.query_params.get("page", "1") or 1))
    except (ValidationError, ValueError) as exc:
        return ctx.plain(request, 400, "Bad filter", str(exc))
    offset = (page - 1) * ctx.page_size
    records = await ctx.backend.store_call("list", where=found, limit=ctx.page_size, offset=offset)
    total = await ctx.backend.store_call("count", where=found)
    everywhere = dataclasses.replace(found, status=None, entity=None)
    counts = await ctx.backend.store_call("counts", everywhere)
    entities = sorted({entity for entity, _ in counts})
    by_entity = {e: {s: n for (e2, s), n in counts.items() if e2 == e} for e in entities}
    return ctx.render(
        request,
        reviewer,
        "list.html",
        records=records,
        total=total,
        page=page,
        pages=max(1, -(-total // ctx.page_size)),
        chosen=chosen,
        statuses=STATUSES,
        entities=entities,
        counts=by_entity,
        bulk_limit=ctx.bulk_limit,
    )


async def visible_record(ctx: Context, reviewer: Reviewer, cid: str) -> StoredConflict | None:
    """The conflict with id ``cid`` if it exists and ``reviewer`` may see it (else ``None``).

    Only full ids are accepted: ids are random, so they cannot be guessed or walked.
    """
    if not _ID.match(cid):
        return None
    record = await ctx.backend.record(cid)
    if record is None or not reviewer.may_see(record.entity):
        return None
    return record


async def conflict_page(
    ctx: Context,
    request: Request,
    reviewer: Reviewer,
    record: StoredConflict,
    *,
    status: int = 200,
    refused: str | None = None,
    error: str | None = None,
    edits: dict[str, str] | None = None,
) -> HTMLResponse:
    """``GET /c/{id}``: base, mine, theirs and what is stored now; the actions left."""
    known, current = await ctx.backend.current(record)
    now = None if current is None else dict(current.base or {})
    fields = editors(record, now)
    if edits:
        fields = [dataclasses.replace(f, value=edits.get(f"f:{f.name}", f.value)) for f in fields]
    c = record.conflict
    return ctx.render(
        request,
        reviewer,
        "conflict.html",
        status=status,
        record=record,
        c=c,
        rows=field_rows(record, now if known else None),
        known=known,
        current=current,
        moved=known and (current is None or current.version != c.actual_version),
        editors=fields,
        can_write=known and c.action == "update" and current is not None,
        refused=refused,
        error=error,
    )
