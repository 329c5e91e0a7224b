"""A small FastAPI service over SQLite (or MariaDB / PostgreSQL) using occ.

Three entities under different policies:

- **notes** — edited by people; the default policy raises, so a stale
  ``If-Match`` answers 412 Precondition Failed with the current ``ETag`` and
  the client re-reads (``If-Match`` is required: 428 without it). Reads answer
  304 Not Modified to an ``If-None-Match`` that names the current version;
- **products** — edited by an admin tool where the last writer wins
  (``Overwrite``; ``If-Match`` optional), while stock moves through
  ``POST /products/{id}/stock`` with ``modify``: read, add, conditional write,
  retried from a fresh read, so no adjustment is ever lost;
- **tickets** — triaged by a team where the first triage wins: a stale edit is
  persisted in a conflict store for review, then discarded
  (``Alert(store, then=Discard())``), and the client gets 409 Conflict with
  the stored ticket, its ``ETag``, ``Occ-Outcome: discarded`` and
  ``Occ-Alerted: true`` — never a 200 for an edit that was thrown away.

Every write answers with ``occ.http.answer``: ``ETag`` and ``Occ-Outcome``
(``written``, ``overwritten``, ``discarded``, ...); errors are RFC 9457
problem details. OpenAPI (``/docs``) shows the ``If-Match`` header and the
412, 428, 409 and 304 answers.

Run it with ``uvicorn --factory examples.service.app:create_app``; the database is
``OCC_EXAMPLE_DATABASE_URL`` (default ``sqlite:///example.db``), e.g.
``mysql+pymysql://root@127.0.0.1:3306/shop``.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the local
# ``Annotated`` dependency aliases defined inside create_app().
import os
from typing import Annotated, Any, NamedTuple

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel

from occ.conflicts.sql import ConflictStore, conflict_table
from occ.http import (
    IfMatch,
    IfNoneMatch,
    NoneMatch,
    Precondition,
    add_exception_handlers,
    answer,
    set_etag,
)
from occ.resolvers import Alert, Discard, Overwrite
from occ.sql import Repository

__all__ = ["Tables", "create_app", "make_tables"]


class NoteIn(BaseModel):
    title: str
    body: str = ""


class ProductIn(BaseModel):
    name: str
    stock: int = 0


class ProductPatch(BaseModel):
    name: str | None = None
    stock: int | None = None


class Adjust(BaseModel):
    delta: int


class TicketIn(BaseModel):
    status: str
    assignee: str = ""


class Tables(NamedTuple):
    """The service's tables, all in one ``metadata``."""

    metadata: sa.MetaData
    notes: sa.Table
    products: sa.Table
    tickets: sa.Table
    conflicts: sa.Table


def make_tables(prefix: str = "") -> Tables:
    """The service's tables (``prefix`` keeps test runs apart)."""
    metadata = sa.MetaData()
    notes = sa.Table(
        f"{prefix}notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False, default=""),
        sa.Column("version", sa.Integer),
    )
    products = sa.Table(
        f"{prefix}products",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("stock", sa.Integer, nullable=False, default=0),
        sa.Column("version", sa.Integer),
    )
    tickets = sa.Table(
        f"{prefix}tickets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=False, default=""),
        sa.Column("version", sa.Integer),
    )
    conflicts = conflict_table(f"{prefix}conflicts", metadata)
    return Tables(metadata, notes, products, tickets, conflicts)


def create_app(url: str | None = None, *, prefix: str = "") -> FastAPI:
    """Build the service over the database at ``url``; its tables are created if missing."""
    url = url or os.environ.get("OCC_EXAMPLE_DATABASE_URL", "sqlite:///example.db")
    connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
    engine = sa.create_engine(url, connect_args=connect_args)
    tables = make_tables(prefix)
    tables.metadata.create_all(engine)
    notes: Repository[dict[str, Any]] = Repository(engine, tables.notes)  # conflicts raise
    products: Repository[dict[str, Any]] = Repository(engine, tables.products, policy=Overwrite())
    review = ConflictStore(engine, tables.conflicts)  # `occ conflicts list` shows them
    first_wins = Alert(review, then=Discard())
    tickets: Repository[dict[str, Any]] = Repository(engine, tables.tickets, policy=first_wins)

    app = FastAPI(title="occ example service")
    add_exception_handlers(app)
    guarded = IfMatch()  # 428 without If-Match
    optional = IfMatch(required=False)
    Guarded = Annotated[Precondition, Depends(guarded)]
    Optional = Annotated[Precondition, Depends(optional)]
    Cached = Annotated[NoneMatch, Depends(IfNoneMatch())]
    app.state.engine = engine
    app.state.if_match = guarded
    app.state.review = review

    def version_of(repo: Repository[dict[str, Any]], key: int) -> Any:
        found = repo.find(key)
        return None if found is None else found.version

    @app.post("/notes", status_code=201)
    def create_note(note: NoteIn, response: Response) -> dict[str, Any]:
        return answer(response, notes.insert(note.model_dump()))

    @app.get("/notes/{key}")
    def get_note(key: int, response: Response, cached: Cached) -> dict[str, Any]:
        found = notes.get(key)
        cached.check(found.version)  # 304 Not Modified if the client's ETag is current
        set_etag(response, found.version)
        return found.value

    @app.put("/notes/{key}")
    def put_note(key: int, note: NoteIn, response: Response, pre: Guarded) -> dict[str, Any]:
        # The check is the write: UPDATE ... WHERE id = :key AND version = :if_match.
        expected = pre.expected(lambda: version_of(notes, key))
        return answer(response, notes.update(key, note.model_dump(), expected_version=expected))

    @app.delete("/notes/{key}", status_code=204)
    def delete_note(key: int, pre: Guarded) -> None:
        notes.delete(key, expected_version=pre.expected(lambda: version_of(notes, key)))

    @app.post("/products", status_code=201)
    def create_product(product: ProductIn, response: Response) -> dict[str, Any]:
        return answer(response, products.insert(product.model_dump()))

    @app.get("/products/{key}")
    def get_product(key: int, response: Response) -> dict[str, Any]:
        found = products.get(key)
        set_etag(response, found.version)
        return found.value

    @app.patch("/products/{key}")
    def patch_product(
        key: int, patch: ProductPatch, response: Response, pre: Optional
    ) -> dict[str, Any]:
        # Overwrite: a stale If-Match is resolved by writing again at the stored version.
        expected = pre.expected(lambda: version_of(products, key))
        changes = patch.model_dump(exclude_unset=True)
        return answer(response, products.update(key, changes, expected_version=expected))

    @app.post("/products/{key}/stock")
    def adjust_stock(key: int, adjust: Adjust, response: Response) -> dict[str, Any]:
        def add(value: dict[str, Any]) -> dict[str, Any]:
            value["stock"] += adjust.delta
            return value

        return answer(response, products.modify(key, add, attempts=50))

    @app.post("/tickets", status_code=201)
    def create_ticket(ticket: TicketIn, response: Response) -> dict[str, Any]:
        return answer(response, tickets.insert(ticket.model_dump()))

    @app.get("/tickets/{key}")
    def get_ticket(key: int, response: Response, cached: Cached) -> dict[str, Any]:
        found = tickets.get(key)
        cached.check(found.version)
        set_etag(response, found.version)
        return found.value

    @app.put("/tickets/{key}")
    def triage(key: int, ticket: TicketIn, response: Response, pre: Guarded) -> dict[str, Any]:
        # A stale If-Match is discarded (first triage wins) and kept for review: 409.
        expected = pre.expected(lambda: version_of(tickets, key))
        return answer(response, tickets.update(key, ticket.model_dump(), expected_version=expected))

    return app
