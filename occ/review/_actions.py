"""The review app's actions, all POSTs with a CSRF token: resolve, bulk resolve, purge.

A resolution goes through the entity's repository as a conditional write
expecting the version the reviewer was shown; if the row moved since, it is
refused (409) and the page shows the new state, the conflict still open.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from occ.conflicts import parse_age
from occ.conflicts._archive import loads
from occ.errors import ConflictError, NotFoundError, ValidationError
from occ.review._auth import Reviewer, check_csrf
from occ.review._context import Context
from occ.review._pages import conflict_page, filter_of, visible_record
from occ.review._present import display, parse_edits

__all__ = ["bulk", "purge", "resolve"]

TAKES = ("mine", "theirs", "values", "dismiss")


async def _form(ctx: Context, request: Request, reviewer: Reviewer) -> Any:
    form = await request.form()
    if not check_csrf(ctx.secret, request, reviewer, str(form.get("csrf", ""))):
        return None
    return form


def _refused_csrf(ctx: Context, request: Request) -> Response:
    return ctx.plain(
        request, 403, "Refused", "The form's security token is missing or stale: reload the page."
    )


def _version(text: str) -> Any:
    if not text:
        return None
    found = loads(text)
    if type(found).__name__ not in ("int", "datetime"):
        raise ValueError("not a version")
    return found


async def _settle(ctx: Context, reviewer: Reviewer, record: Any, take: str, **kw: Any) -> Any:
    if take == "dismiss":
        return await ctx.backend.store_call("dismiss", record.id, by=reviewer.name)
    repo = ctx.backend.repository(record.entity)
    if repo is None:
        raise ValidationError(
            f"this review app has no repository for {record.entity!r}: it can only be dismissed"
        )
    return await ctx.backend.store_call(
        "resolve", record.id, repo, take=take, by=reviewer.name, **kw
    )


async def resolve(ctx: Context, request: Request, reviewer: Reviewer) -> Response:
    """``POST /c/{id}/resolve``: take mine, theirs, edited values, or dismiss."""
    form = await _form(ctx, request, reviewer)
    if form is None:
        return _refused_csrf(ctx, request)
    record = await visible_record(ctx, reviewer, request.path_params["cid"])
    if record is None:
        return ctx.plain(request, 404, "No such conflict", "It does not exist, or is not yours.")
    take = str(form.get("take", ""))
    if take not in TAKES:
        return ctx.plain(request, 400, "Bad request", f"take must be one of {', '.join(TAKES)}")
    if not record.is_open:
        return await conflict_page(
            ctx, request, reviewer, record, status=409, error="It was settled already."
        )
    edits = {k: str(v) for k, v in form.items() if k.startswith("f:")}
    options: dict[str, Any] = {}
    try:
        if take != "dismiss":
            options["expected_version"] = _version(str(form.get("expected", "")))
        if take == "values":
            _, current = await ctx.backend.current(record)
            now = None if current is None else dict(current.base or {})
            options["values"] = parse_edits(record, now, edits)
        await _settle(ctx, reviewer, record, take, **options)
    except ConflictError as exc:
        now_version = exc.conflict.actual_version
        state = "was deleted" if now_version is None else f"is now at version {now_version}"
        message = (
            f"Refused: {record.entity} {display(record.key)} {state}, not the version you saw. "
            "Nothing was written; the conflict stays open. Here is what is stored now."
        )
        fresh = await ctx.backend.record(record.id) or record
        return await conflict_page(ctx, request, reviewer, fresh, status=409, refused=message)
    except NotFoundError:
        message = f"{record.entity} {display(record.key)} no longer exists. Nothing was written."
        return await conflict_page(ctx, request, reviewer, record, status=409, refused=message)
    except (ValidationError, ValueError) as exc:
        return await conflict_page(
            ctx, request, reviewer, record, status=422, error=str(exc), edits=edits
        )
    url = request.url_for("conflict", cid=record.id)
    return RedirectResponse(str(url), status_code=303)


async def bulk(ctx: Context, request: Request, reviewer: Reviewer) -> Response:
    """``POST /bulk``: settle the selected conflicts, or every one the filter selects."""
    form = await _form(ctx, request, reviewer)
    if form is None:
        return _refused_csrf(ctx, request)
    take = str(form.get("take", ""))
    if take not in ("mine", "theirs", "dismiss"):
        return ctx.plain(request, 400, "Bad request", "take must be mine, theirs or dismiss")
    try:
        found, _ = filter_of(form, reviewer)
    except ValidationError as exc:
        return ctx.plain(request, 400, "Bad filter", str(exc))
    ids = [str(i) for i in form.getlist("id")]
    if form.get("all") != "yes":
        if not ids:
            return ctx.plain(request, 400, "Nothing selected", "Tick conflicts, or all matching.")
        found = type(found)(ids=frozenset(ids), entities=reviewer.entities, status="open")
    records = await ctx.backend.store_call("list", where=found, limit=ctx.bulk_limit)
    results = []
    for record in records:
        if not record.is_open:
            continue
        try:
            await _settle(ctx, reviewer, record, take)
            results.append((record, "settled", f"took {take}"))
        except ConflictError as exc:
            results.append((record, "refused", f"moved to version {exc.conflict.actual_version}"))
        except (NotFoundError, ValidationError) as exc:
            results.append((record, "refused", str(exc)))
    return ctx.render(request, reviewer, "bulk.html", take=take, results=results)


async def purge(ctx: Context, request: Request, reviewer: Reviewer) -> Response:
    """``POST /purge``: delete resolved conflicts settled longer ago than the age given."""
    form = await _form(ctx, request, reviewer)
    if form is None:
        return _refused_csrf(ctx, request)
    try:
        age = parse_age(str(form.get("older_than", "")))
    except ValidationError as exc:
        return ctx.plain(request, 400, "Bad age", str(exc))
    if form.get("confirm") != "yes":
        return ctx.plain(request, 400, "Not confirmed", "Tick the box to confirm the purge.")
    deleted = await ctx.backend.store_call("purge", age, entities=reviewer.entities)
    return ctx.plain(
        request, 200, "Purged", f"Deleted {deleted} resolved conflicts settled over {age} ago."
    )
