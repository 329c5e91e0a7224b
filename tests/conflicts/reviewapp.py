"""A small application with a conflict store, for the review app's tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.requests import Request

import occ.sql
from occ import resolvers
from occ.conflicts.sql import ConflictStore
from occ.review import Reviewer, review_app

ACCOUNT = sa.Table(
    "account",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("owner", sa.String(80)),
    sa.Column("balance", sa.Integer),
    sa.Column("version", sa.Integer),
)
ORDER = sa.Table(
    "orders",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(20)),
    sa.Column("version", sa.Integer),
)
#: who may come in: ann sees everything, bob only orders.
USERS = {"ann": Reviewer.of("ann"), "bob": Reviewer.of("bob", {"orders"})}
SECRET = b"s" * 32


def authenticate(request: Request) -> Reviewer | None:
    """The embedding app's authentication: a header naming a known user."""
    return USERS.get(request.headers.get("x-user", ""))


@dataclass
class App:
    """The application's engine, store and repositories, and the review app over them."""

    engine: sa.Engine
    store: ConflictStore
    accounts: occ.sql.Repository[Any]
    orders: occ.sql.Repository[Any]
    asgi: Any

    def stale_write(self, key: int, owner: str = "ada l.") -> str:
        """Someone changes the balance; my stale change of the owner is stored: its id."""
        mine = self.accounts.get(key)
        theirs = self.accounts.get(key)
        self.accounts.update(key, {"balance": 150}, expected_version=theirs.version)
        before = {r.id for r in self.store.list(limit=None)}
        self.accounts.update(key, {"owner": owner}, expected_version=mine.version, base=mine.base)
        (cid,) = {r.id for r in self.store.list(limit=None)} - before
        return cid

    def row(self, key: int) -> Any:
        return occ.sql.Repository(self.engine, ACCOUNT).get(key)


def make_app(url: str) -> App:
    engine = sa.create_engine(url)
    ACCOUNT.create(engine)
    ORDER.create(engine)
    store = ConflictStore(engine)
    store.create()
    policy = resolvers.Alert(store, then=resolvers.Discard())
    accounts = occ.sql.Repository(engine, ACCOUNT, policy=policy)
    orders = occ.sql.Repository(engine, ORDER, policy=policy)
    plain = {
        "account": occ.sql.Repository(engine, ACCOUNT),
        "orders": occ.sql.Repository(engine, ORDER),
    }
    asgi = review_app(store, plain, authenticate=authenticate, secret=SECRET)
    return App(engine, store, accounts, orders, asgi)


def client(app: App, user: str | None = "ann") -> httpx.AsyncClient:
    headers = {"x-user": user} if user else {}
    transport = httpx.ASGITransport(app=app.asgi)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def expected(html: str) -> str:
    found = re.search(r'name="expected" value="([^"]*)"', html)
    assert found, html
    return found.group(1).replace("&#34;", '"').replace("&quot;", '"')
