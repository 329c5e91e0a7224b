"""Each write outcome over HTTP: status, ETag, ``Occ-Outcome``; a discard is never a 200.

One small FastAPI app per policy on a real database; a second writer makes
the client's ``If-Match`` stale, the policy resolves the conflict, and the
answer says what happened to the client's edit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Response

import occ
from occ.conflicts.sql import ConflictStore, conflict_table
from occ.http import (
    IfMatch,
    Precondition,
    add_exception_handlers,
    answer,
    outcome_headers,
    outcome_status,
)
from occ.resolvers import Alert, Counter, Discard, Merge, Overwrite
from occ.sql import Repository

metadata = sa.MetaData()
items = sa.Table(
    "occ_h5_outcome_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("label", sa.String(50), nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer),
)
conflicts = conflict_table("occ_h5_outcome_conflicts", metadata)
Pre = Annotated[Precondition, Depends(IfMatch(required=False))]
App = Callable[[Any], httpx.AsyncClient]


def build(repo: Repository[dict[str, Any]]) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app)

    @app.patch("/items/{key}")
    def edit(key: int, changes: dict[str, Any], response: Response, pre: Pre) -> Any:
        expected = pre.expected(lambda: repo.get(key).version)
        return answer(response, repo.update(key, changes, expected_version=expected))

    @app.post("/items/{key}/edits")
    def edit_from(key: int, edit: dict[str, Any], response: Response, pre: Pre) -> Any:
        # The client sends what it read with what it changed: a three-way merge can use it.
        expected = pre.expected_version
        changes, base = edit["changes"], edit["base"]
        return answer(response, repo.update(key, changes, expected_version=expected, base=base))

    @app.post("/items/{key}/hits")
    def hit(key: int, response: Response) -> Any:
        read = repo.get(key)
        changes = {"hits": read.value["hits"] + 1}
        return answer(response, repo.update(key, changes, expected_version=read.version, base=read))

    @app.put("/items/{key}/same")
    def same(key: int, response: Response) -> Any:
        return answer(response, repo.save(repo.get(key)))  # nothing changed

    return app


@pytest.fixture
async def client(engine: sa.Engine) -> AsyncIterator[Callable[..., Any]]:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    opened: list[httpx.AsyncClient] = []

    async def make(policy: Any = None) -> tuple[httpx.AsyncClient, Repository[dict[str, Any]]]:
        repo: Repository[dict[str, Any]] = Repository(engine, items, policy=policy)
        repo.insert({"id": 1, "label": "a", "hits": 0})
        repo.update(1, {"label": "theirs"}, expected_version=1)  # the client read v1
        transport = httpx.ASGITransport(app=build(repo))
        http = httpx.AsyncClient(transport=transport, base_url="http://test")
        opened.append(http)
        return http, repo

    yield make
    for http in opened:
        await http.aclose()
    metadata.drop_all(engine)


async def stale_edit(http: httpx.AsyncClient) -> httpx.Response:
    return await http.patch("/items/1", json={"hits": 5}, headers={"If-Match": '"1"'})


async def test_written(client: Callable[..., Any]) -> None:
    http, _ = await client()
    ok = await http.patch("/items/1", json={"hits": 5}, headers={"If-Match": '"2"'})
    assert (ok.status_code, ok.headers["etag"], ok.headers["occ-outcome"]) == (
        200,
        '"3"',
        "written",
    )
    assert "occ-alerted" not in ok.headers


async def test_merged_is_200_with_the_merged_value(client: Callable[..., Any]) -> None:
    http, _ = await client(Merge())
    read = {"id": 1, "label": "a", "hits": 0}  # version 1
    edit = {"base": read, "changes": {"hits": 5}}
    merged = await http.post("/items/1/edits", json=edit, headers={"If-Match": '"1"'})
    assert (merged.status_code, merged.headers["etag"]) == (200, '"3"')
    assert merged.headers["occ-outcome"] == "merged"
    assert merged.json() == {"id": 1, "label": "theirs", "hits": 5, "version": 3}


async def test_overwritten_is_200(client: Callable[..., Any]) -> None:
    http, _ = await client(Overwrite())
    overwritten = await stale_edit(http)
    assert (overwritten.status_code, overwritten.headers["etag"]) == (200, '"3"')
    assert overwritten.headers["occ-outcome"] == "overwritten"
    assert overwritten.json()["hits"] == 5


async def test_discarded_is_409_with_the_stored_value_and_its_etag(
    client: Callable[..., Any],
) -> None:
    http, repo = await client(Discard())
    discarded = await stale_edit(http)
    assert discarded.status_code == 409, discarded.text
    assert (discarded.headers["etag"], discarded.headers["occ-outcome"]) == ('"2"', "discarded")
    assert discarded.headers["content-type"] == "application/json"
    assert discarded.json() == {"id": 1, "label": "theirs", "hits": 0, "version": 2}
    assert repo.get(1).value["hits"] == 0  # the edit was not stored
    retry = await http.patch(
        "/items/1", json={"hits": 5}, headers={"If-Match": discarded.headers["etag"]}
    )
    assert (retry.status_code, retry.headers["occ-outcome"]) == (200, "written")


async def test_alerted_discard_is_409_and_the_edit_is_kept_for_review(
    client: Callable[..., Any], engine: sa.Engine
) -> None:
    store = ConflictStore(engine, conflicts)
    http, _ = await client(Alert(store, then=Discard()))
    discarded = await stale_edit(http)
    assert discarded.status_code == 409
    assert discarded.headers["occ-outcome"] == "discarded"
    assert discarded.headers["occ-alerted"] == "true"
    [kept] = store.list()
    assert kept.conflict.changes == {"hits": 5}


async def test_alerted_overwrite_is_200_and_says_alerted(
    client: Callable[..., Any], engine: sa.Engine
) -> None:
    http, _ = await client(Alert(ConflictStore(engine, conflicts), then=Overwrite()))
    overwritten = await stale_edit(http)
    assert overwritten.status_code == 200
    assert (overwritten.headers["occ-outcome"], overwritten.headers["occ-alerted"]) == (
        "overwritten",
        "true",
    )


async def test_unchanged_is_200_with_the_same_etag(client: Callable[..., Any]) -> None:
    http, _ = await client()
    same = await http.put("/items/1/same")
    assert (same.status_code, same.headers["etag"], same.headers["occ-outcome"]) == (
        200,
        '"2"',
        "unchanged",
    )


async def test_commutative_is_200(client: Callable[..., Any]) -> None:
    http, _ = await client(Merge(fields={"hits": Counter()}, fast_path=True))
    hit = await http.post("/items/1/hits")
    assert (hit.status_code, hit.headers["occ-outcome"], hit.json()["hits"]) == (
        200,
        "commutative",
        1,
    )


async def test_raise_is_409_without_if_match_and_412_with_it(client: Callable[..., Any]) -> None:
    http, _ = await client()
    assert (await stale_edit(http)).status_code == 412


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("written", 201),
        ("retried", 201),
        ("commutative", 201),
        ("merged", 201),
        ("overwritten", 201),
        ("unchanged", 201),
        ("discarded", 409),
    ],
)
def test_outcome_status_and_headers(outcome: str, status: int) -> None:
    result = occ.Versioned({"id": 1}, 4, 1, outcome=outcome, alerted=outcome == "discarded")
    assert outcome_status(result, 201) == status
    headers = outcome_headers(result)
    assert (headers["ETag"], headers["Occ-Outcome"]) == ('"4"', outcome)
    assert ("Occ-Alerted" in headers) is (outcome == "discarded")
