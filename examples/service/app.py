"""A small FastAPI service over SQLite (or MariaDB / PostgreSQL) using occ.

Two entities under different policies:

- **notes** — edited by people; the default policy raises, so a stale
  ``If-Match`` answers 412 Precondition Failed with the current ``ETag`` and
  the client re-reads (``If-Match`` is required: 428 without it);
- **products** — edited by an admin tool where the last writer wins
  (``Overwrite``; ``If-Match`` optional), while stock moves through
  ``POST /products/{id}/stock`` with ``modify``: read, add, conditional write,
  retried from a fresh read, so no adjustment is ever lost.

Run it with ``uvicorn --factory examples.service.app:create_app``; the database is
``OCC_EXAMPLE_DATABASE_URL`` (default ``sqlite:///example.db``), e.g.
``mysql+pymysql://root@127.0.0.1:3306/shop``.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the local
# ``Annotated`` dependency aliases defined inside create_app().
import os
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel

from occ.http import IfMatch, Precondition, add_exception_handlers, set_etag
from occ.resolvers import Overwrite
from occ.sql import Repository

__all__ = ["create_app", "make_tables"]


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


def make_tables(prefix: str = "") -> tuple[sa.MetaData, sa.Table, sa.Table]:
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
    return metadata, notes, products


def create_app(url: str | None = None, *, prefix: str = "") -> FastAPI:
    """Build the service over the database at ``url``; its tables are created if missing."""
    url = url or os.environ.get("OCC_EXAMPLE_DATABASE_URL", "sqlite:///example.db")
    connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
    engine = sa.create_engine(url, connect_args=connect_args)
    metadata, notes_table, products_table = make_tables(prefix)
    metadata.create_all(engine)
    notes: Repository[dict[str, Any]] = Repository(engine, notes_table)  # conflicts raise
    products: Repository[dict[str, Any]] = Repository(engine, products_table, policy=Overwrite())

    app = FastAPI(title="occ example service")
    add_exception_handlers(app)
    guarded = IfMatch()  # 428 without If-Match
    optional = IfMatch(required=False)
    Guarded = Annotated[Precondition, Depends(guarded)]
    Optional = Annotated[Precondition, Depends(optional)]
    app.state.engine = engine
    app.state.if_match = guarded

    def version_of(repo: Repository[dict[str, Any]], key: int) -> Any:
        found = repo.find(key)
        return None if found is None else found.version

    @app.post("/notes", status_code=201)
    def create_note(note: NoteIn, response: Response) -> dict[str, Any]:
        created = notes.insert(note.model_dump())
        set_etag(response, created.version)
        return created.value

    @app.get("/notes/{key}")
    def get_note(key: int, response: Response) -> dict[str, Any]:
        found = notes.get(key)
        set_etag(response, found.version)
        return found.value

    @app.put("/notes/{key}")
    def put_note(key: int, note: NoteIn, response: Response, pre: Guarded) -> dict[str, Any]:
        # The check is the write: UPDATE ... WHERE id = :key AND version = :if_match.
        expected = pre.expected(lambda: version_of(notes, key))
        stored = notes.update(key, note.model_dump(), expected_version=expected)
        set_etag(response, stored.version)
        return stored.value

    @app.delete("/notes/{key}", status_code=204)
    def delete_note(key: int, pre: Guarded) -> None:
        notes.delete(key, expected_version=pre.expected(lambda: version_of(notes, key)))

    @app.post("/products", status_code=201)
    def create_product(product: ProductIn, response: Response) -> dict[str, Any]:
        created = products.insert(product.model_dump())
        set_etag(response, created.version)
        return created.value

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
        stored = products.update(key, changes, expected_version=expected)
        set_etag(response, stored.version)
        return stored.value

    @app.post("/products/{key}/stock")
    def adjust_stock(key: int, adjust: Adjust, response: Response) -> dict[str, Any]:
        def add(value: dict[str, Any]) -> dict[str, Any]:
            value["stock"] += adjust.delta
            return value

        stored = products.modify(key, add, attempts=50)
        set_etag(response, stored.version)
        return stored.value

    return app
