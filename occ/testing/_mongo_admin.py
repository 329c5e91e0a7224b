"""Databases on a MongoDB server: reach, name in a URI, list, drop.

MongoDB creates a database on its first write, so there is nothing to create.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pymongo
from pymongo import uri_parser

#: how long a ping or an admin command waits for the server, in milliseconds.
TIMEOUT_MS = 2000
#: mechanisms whose credentials always live in ``$external``, whatever the URI's database.
_EXTERNAL_ONLY = frozenset({"MONGODB-X509", "MONGODB-AWS", "GSSAPI", "MONGODB-OIDC"})


def is_mongodb(url: str) -> bool:
    """Whether ``url`` is a MongoDB connection string."""
    return url.startswith(("mongodb://", "mongodb+srv://"))


def describe(uri: str) -> str:
    """``uri`` without its password, for messages."""
    scheme, _, rest = uri.partition("://")
    userinfo, at, hosts = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return uri
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{hosts}"


@contextmanager
def _client(uri: str, timeout_ms: int = TIMEOUT_MS) -> Iterator[pymongo.MongoClient[Any]]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        yield client
    finally:
        client.close()


def unreachable(uri: str, timeout_ms: int = 500) -> str | None:
    """Why the server at ``uri`` does not answer ``ping``, or ``None`` if it does."""
    try:
        with _client(uri, timeout_ms) as client:
            client.admin.command("ping")
    except Exception as exc:  # any failure to connect or to answer
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def with_database(uri: str, name: str) -> str:
    """``uri`` whose default database is ``name``, authenticating exactly as before.

    A URI's database is also where credentials are checked unless ``authSource``
    says otherwise; when a user is given without ``authSource``, the source the
    original URI implied is written out, so changing the database changes nothing else.
    """
    parsed = uri_parser.parse_uri(uri, validate=False)
    options = {key.lower(): value for key, value in parsed["options"].items()}
    query = uri.partition("?")[2]
    mechanism = options.get("authmechanism")
    if parsed["username"] and "authsource" not in options and mechanism not in _EXTERNAL_ONLY:
        source = parsed["database"] or ("$external" if mechanism == "PLAIN" else "admin")
        query = "&".join(part for part in (query, f"authSource={quote(source, safe='')}") if part)
    scheme, _, rest = uri.partition("://")
    hosts = rest.split("?", 1)[0].split("/", 1)[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if query else "")


def create(uri: str, name: str) -> None:
    """Nothing to do: MongoDB creates database ``name`` on its first write."""


def list_names(uri: str) -> list[str]:
    """Every database on the server of ``uri``."""
    with _client(uri) as client:
        return list(client.list_database_names())


def drop(uri: str, name: str) -> None:
    """Drop database ``name`` on the server of ``uri`` (nothing happens if it does not exist)."""
    with _client(uri) as client:
        client.drop_database(name)
