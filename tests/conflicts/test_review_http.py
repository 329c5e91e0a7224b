"""The review app through an ASGI client: every action, and every refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import occ.sql
from tests.conflicts.reviewapp import App, client, csrf, expected, make_app

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built = make_app(f"sqlite:///{tmp_path / 'app.db'}")
    built.accounts.insert({"id": 1, "owner": "ada", "balance": 100})
    built.accounts.insert({"id": 2, "owner": "<script>alert(1)</script>", "balance": 5})
    built.orders.insert({"id": 7, "state": "new"})
    yield built
    occ.sql.dispose(built.engine)


async def page(app: App, path: str, user: str | None = "ann") -> Any:
    async with client(app, user) as http:
        return await http.get(path)


async def act(app: App, cid: str, take: str, user: str = "ann", **form: str) -> Any:
    """Open the conflict page, then post the action with its token (and ``form``)."""
    async with client(app, user) as http:
        shown = await http.get(f"/c/{cid}")
        data = {"csrf": csrf(shown.text), "take": take, **form}
        if take != "dismiss" and "expected" not in form:
            data["expected"] = expected(shown.text)
        return await http.post(f"/c/{cid}/resolve", data=data)


async def test_the_list_shows_open_conflicts_with_counts_and_filters(app: App) -> None:
    cid = app.stale_write(1)
    listed = await page(app, "/")
    assert listed.status_code == 200
    assert f'/c/{cid}"' in listed.text
    assert "<td>account</td>" in listed.text
    none = await page(app, "/?entity=orders")
    assert cid not in none.text
    old = await page(app, "/?older_than=1d")
    assert cid not in old.text
    assert (await page(app, "/?older_than=soon")).status_code == 400
    assert (await page(app, "/?status=bogus")).status_code == 400


async def test_the_conflict_page_shows_every_side_escaped(app: App) -> None:
    cid = app.stale_write(2, owner="<b>bold</b>")
    shown = await page(app, f"/c/{cid}")
    assert shown.status_code == 200
    assert "<script>alert(1)</script>" not in shown.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in shown.text
    assert shown.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in shown.headers["content-security-policy"]
    assert shown.headers["cache-control"] == "no-store"
    assert 'class="both"' in shown.text or 'class="mine"' in shown.text


async def test_without_authentication_nothing_is_shown_or_written(app: App) -> None:
    cid = app.stale_write(1)
    for path in ("/", f"/c/{cid}"):
        assert (await page(app, path, user=None)).status_code == 401
    async with client(app, None) as http:
        refused = await http.post(f"/c/{cid}/resolve", data={"take": "mine", "csrf": "x"})
    assert refused.status_code == 401
    assert app.row(1).version == 2
    assert app.store.get(cid).status == "pending"


async def test_unknown_malformed_and_hidden_ids_are_not_found(app: App) -> None:
    cid = app.stale_write(1)
    assert (await page(app, "/c/" + "0" * 32)).status_code == 404
    assert (await page(app, f"/c/{cid[:8]}")).status_code == 404  # no prefixes on the web
    assert (await page(app, f"/c/{cid}", user="bob")).status_code == 404  # not his entity
    assert cid not in (await page(app, "/", user="bob")).text
    async with client(app, "bob") as http:
        token = csrf((await http.get("/")).text)
        posted = await http.post(f"/c/{cid}/resolve", data={"csrf": token, "take": "dismiss"})
    assert posted.status_code == 404
    assert app.store.get(cid).status == "pending"


async def test_take_mine_writes_at_the_version_shown_and_records_who(app: App) -> None:
    cid = app.stale_write(1)
    done = await act(app, cid, "mine")
    assert done.status_code == 303
    assert done.headers["location"].endswith(f"/c/{cid}")
    row = app.row(1)
    assert (row.value["owner"], row.value["balance"], row.version) == ("ada l.", 150, 3)
    record = app.store.get(cid)
    assert (record.status, record.resolution, record.resolved_by) == ("resolved", "mine", "ann")
    assert record.resolution_detail["version"] == 3
    assert record.resolution_detail["forced"] is False
    shown = await page(app, f"/c/{cid}")
    assert "by ann" in shown.text


async def test_take_theirs_and_dismiss_write_nothing(app: App) -> None:
    first, second = app.stale_write(1), app.stale_write(1, owner="other")
    assert (await act(app, first, "theirs")).status_code == 303
    assert (await act(app, second, "dismiss")).status_code == 303
    assert app.row(1).value["owner"] == "ada"
    assert app.store.get(first).resolution == "theirs"
    assert app.store.get(second).resolution == "dismissed"


async def test_edited_values_are_parsed_by_kind_and_written(app: App) -> None:
    cid = app.stale_write(1)
    done = await act(app, cid, "values", **{"f:owner": "Ada Lovelace", "f:balance": "175"})
    assert done.status_code == 303
    row = app.row(1)
    assert (row.value["owner"], row.value["balance"]) == ("Ada Lovelace", 175)
    assert app.store.get(cid).resolution_detail["values"]["balance"] == 175


async def test_a_bad_edited_value_is_refused_and_nothing_written(app: App) -> None:
    cid = app.stale_write(1)
    refused = await act(app, cid, "values", **{"f:owner": "x", "f:balance": "lots"})
    assert refused.status_code == 422
    assert "balance" in refused.text
    assert 'value="lots"' in refused.text  # what was typed is kept
    assert app.row(1).version == 2
    assert app.store.get(cid).status == "pending"


async def test_a_stale_resolution_is_refused_shows_the_new_state_then_can_be_forced(
    app: App,
) -> None:
    cid = app.stale_write(1)
    async with client(app) as http:
        shown = await http.get(f"/c/{cid}")
        seen = expected(shown.text)
        app.accounts.update(1, {"balance": 999}, expected_version=2)  # moves under the reviewer
        stale = await http.post(
            f"/c/{cid}/resolve", data={"csrf": csrf(shown.text), "take": "mine", "expected": seen}
        )
        assert stale.status_code == 409
        assert "Refused" in stale.text
        assert "is now at version 3" in stale.text
        assert "999" in stale.text  # the new state is shown
        assert app.row(1).value["owner"] == "ada"
        assert app.store.get(cid).status == "pending"
        theirs = await http.post(
            f"/c/{cid}/resolve", data={"csrf": csrf(shown.text), "take": "theirs", "expected": seen}
        )
        assert theirs.status_code == 409
        forced = await http.post(
            f"/c/{cid}/resolve",
            data={"csrf": csrf(stale.text), "take": "mine", "expected": expected(stale.text)},
        )
    assert forced.status_code == 303
    row = app.row(1)
    assert (row.value["owner"], row.value["balance"], row.version) == ("ada l.", 999, 4)
    assert app.store.get(cid).resolution_detail["forced"] is True


async def test_actions_without_a_valid_csrf_token_are_refused(app: App) -> None:
    cid = app.stale_write(1)
    async with client(app) as http:
        shown = await http.get(f"/c/{cid}")
        good = {"take": "mine", "expected": expected(shown.text)}
        assert (await http.post(f"/c/{cid}/resolve", data=good)).status_code == 403
        wrong = {**good, "csrf": "0" * 64}
        assert (await http.post(f"/c/{cid}/resolve", data=wrong)).status_code == 403
        cross = {**good, "csrf": csrf(shown.text)}
        headers = {"origin": "https://evil.example"}
        refused = await http.post(f"/c/{cid}/resolve", data=cross, headers=headers)
        assert refused.status_code == 403
        for path in ("/bulk", "/purge"):
            assert (await http.post(path, data={"take": "theirs", "id": cid})).status_code == 403
        orders = await http.get("/")  # ann's token, in ann's cookie jar, posted as bob
        as_bob = {"csrf": csrf(orders.text), "take": "dismiss", "id": cid}
        refused = await http.post("/bulk", data=as_bob, headers={"x-user": "bob"})
        assert refused.status_code == 403
    assert app.row(1).version == 2
    assert app.store.get(cid).status == "pending"


async def test_a_settled_conflict_cannot_be_settled_again(app: App) -> None:
    cid = app.stale_write(1)
    async with client(app) as http:
        shown = await http.get(f"/c/{cid}")
        data = {"csrf": csrf(shown.text), "take": "dismiss"}
        assert (await http.post(f"/c/{cid}/resolve", data=data)).status_code == 303
        again = await http.post(f"/c/{cid}/resolve", data={**data, "take": "theirs"})
    assert again.status_code == 409
    assert app.store.get(cid).resolution == "dismissed"


async def test_bulk_settles_the_ticked_or_all_matching_and_reports_refusals(app: App) -> None:
    first, second = app.stale_write(1), app.stale_write(2)
    app.accounts.update(2, {"balance": 1}, expected_version=2)  # second's row moves on
    async with client(app) as http:
        token = csrf((await http.get("/")).text)
        report = await http.post(
            "/bulk", data={"csrf": token, "take": "mine", "id": [first, second]}
        )
        assert report.status_code == 200
        assert "1 of 2 settled" in report.text
        assert "moved to version 3" in report.text
        assert app.store.get(first).resolution == "mine"
        assert app.store.get(second).status == "pending"
        none = await http.post("/bulk", data={"csrf": token, "take": "theirs"})
        assert none.status_code == 400
        everything = await http.post(
            "/bulk", data={"csrf": token, "take": "theirs", "all": "yes", "entity": "account"}
        )
    assert "1 of 1 settled" in everything.text
    assert app.store.get(second).resolution == "theirs"


async def test_purge_deletes_only_resolved_conflicts_older_than_asked(app: App) -> None:
    settled, open_ = app.stale_write(1), app.stale_write(2)
    await act(app, settled, "dismiss")
    async with client(app) as http:
        token = csrf((await http.get("/")).text)
        unconfirmed = await http.post("/purge", data={"csrf": token, "older_than": "0s"})
        assert unconfirmed.status_code == 400
        recent = await http.post(
            "/purge", data={"csrf": token, "older_than": "1d", "confirm": "yes"}
        )
        assert "Deleted 0" in recent.text
        purged = await http.post(
            "/purge", data={"csrf": token, "older_than": "0s", "confirm": "yes"}
        )
    assert "Deleted 1" in purged.text
    assert [r.id for r in app.store.list()] == [open_]


async def test_an_async_store_and_repository_work_the_same(tmp_path: Path) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from occ import resolvers
    from occ.conflicts.sql import AsyncConflictStore
    from occ.review import Reviewer, review_app
    from tests.conflicts.reviewapp import ACCOUNT, SECRET

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'async.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(ACCOUNT.create)
    store = AsyncConflictStore(engine)
    await store.create()
    policy = resolvers.Alert(store, then=resolvers.Discard())
    accounts = occ.sql.AsyncRepository(engine, ACCOUNT, policy=policy)
    await accounts.insert({"id": 1, "owner": "ada", "balance": 1})
    await accounts.update(1, {"balance": 2}, expected_version=1)
    await accounts.update(1, {"owner": "bob"}, expected_version=1)
    (pending,) = await store.list()
    asgi = review_app(
        store,
        {"account": occ.sql.AsyncRepository(engine, ACCOUNT)},
        authenticate=lambda request: Reviewer("ann"),
        secret=SECRET,
    )
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        shown = await http.get(f"/c/{pending.id}")
        data = {"csrf": csrf(shown.text), "take": "mine", "expected": expected(shown.text)}
        done = await http.post(f"/c/{pending.id}/resolve", data=data)
    assert done.status_code == 303
    stored = await accounts.get(1)
    assert (stored.value["owner"], stored.value["balance"], stored.version) == ("bob", 2, 3)
    assert (await store.get(pending.id)).resolved_by == "ann"
    await occ.sql.adispose(engine)
