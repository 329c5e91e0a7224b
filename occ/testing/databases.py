"""Private databases for test runs: each run creates its own, uses it, drops it.

Two test runs (or a test run and a benchmark) against the same server must not
create and drop each other's tables. :func:`private_database` gives a run a
database of its own, ``<prefix><UTC time>_<random>``, on the server a URL
names — MariaDB/MySQL, PostgreSQL, MongoDB, or a new file for SQLite — and
drops it at the end. The creation time in the name lets a later run drop what
a crashed run left behind (:func:`drop_stale_databases`), and only that: a
database younger than ``stale_after`` may belong to a live run and is never
touched.

```text
with private_database("mysql+pymysql://root@127.0.0.1:3306/test") as url:
    engine = sa.create_engine(url)   # mysql+pymysql://root@127.0.0.1:3306/occ_t_20260101_120000_1a2b3c4d
    ...
```

A MongoDB URL comes back with the private database as its default database
(``client.get_default_database()``); credentials keep authenticating where they did.

Creating a database needs the privilege to (``CREATE`` on MariaDB,
``CREATEDB`` on PostgreSQL). The database named in a SQL URL is only where
PostgreSQL connects to run ``CREATE DATABASE``; nothing is written to it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Protocol

from occ.errors import OCCError

__all__ = [
    "DEFAULT_PREFIX",
    "STALE_AFTER",
    "DatabaseUnavailableError",
    "PrivateDatabases",
    "created_at",
    "drop_stale_databases",
    "private_database",
    "private_name",
    "unreachable",
]

#: the prefix of the databases a test run creates.
DEFAULT_PREFIX = "occ_t_"
#: the age after which a private database is a crashed run's leftover.
STALE_AFTER = dt.timedelta(hours=6)

_STAMP = "%Y%m%d_%H%M%S"
_SUFFIX = re.compile(r"(\d{8}_\d{6})_[0-9a-f]{8}")
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


class _Admin(Protocol):
    """What ``_sql_admin`` and ``_mongo_admin`` both provide."""

    def describe(self, url: str) -> str: ...
    def unreachable(self, url: str) -> str | None: ...
    def list_names(self, url: str) -> list[str]: ...
    def create(self, url: str, name: str) -> None: ...
    def drop(self, url: str, name: str) -> None: ...
    def with_database(self, url: str, name: str) -> str: ...


class DatabaseUnavailableError(OCCError, ConnectionError):
    """A server that cannot be reached, or on which a private database cannot be created.

    Attributes:
        url: the URL (without its password).
        reason: what the driver said.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


def _admin(url: str) -> _Admin:
    """The module that administers the server of ``url`` (imported on demand: its driver)."""
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from occ.testing import _mongo_admin

        return _mongo_admin
    from occ.testing import _sql_admin

    return _sql_admin


def unreachable(url: str) -> str | None:
    """Why the database at ``url`` does not answer, or ``None`` if it does.

    Args:
        url: a SQLAlchemy URL or a MongoDB connection string.

    Returns:
        The first line of the driver's error, or ``None`` when the server answers.
    """
    return _admin(url).unreachable(url)


def private_name(prefix: str = DEFAULT_PREFIX, *, now: dt.datetime | None = None) -> str:
    """A new database name: ``prefix``, the UTC time, 8 random hex digits.

    Args:
        prefix: lower-case letters, digits and ``_``, starting with a letter.
        now: the creation time to write in the name (default: now).

    Raises:
        ValueError: a prefix that is not a plain identifier.
    """
    if not _PREFIX.match(prefix):
        raise ValueError(f"{prefix!r}: a prefix is a-z, 0-9 and _, starting with a letter")
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{prefix}{when.strftime(_STAMP)}_{secrets.token_hex(4)}"


def created_at(name: str, prefix: str = DEFAULT_PREFIX) -> dt.datetime | None:
    """The time :func:`private_name` wrote in ``name``; ``None`` if it is not of ``prefix``."""
    if not name.startswith(prefix):
        return None
    match = _SUFFIX.fullmatch(name[len(prefix) :])
    if match is None:
        return None
    return dt.datetime.strptime(match.group(1), _STAMP).replace(tzinfo=dt.UTC)


def drop_stale_databases(
    url: str, prefix: str = DEFAULT_PREFIX, *, stale_after: dt.timedelta = STALE_AFTER
) -> list[str]:
    """Drop the private databases of ``prefix`` older than ``stale_after`` on the server of ``url``.

    Only names :func:`private_name` made with this prefix are considered;
    anything else on the server, and every private database younger than
    ``stale_after`` (a live run's), is left alone. Another run dropping the same
    leftover at the same time is not an error.

    Returns:
        The names dropped.
    """
    admin = _admin(url)
    cutoff = dt.datetime.now(dt.UTC) - stale_after
    dropped = []
    for name in admin.list_names(url):
        born = created_at(name, prefix)
        if born is None or born >= cutoff:
            continue
        try:
            admin.drop(url, name)
        except Exception:  # another run dropped it first, or it is in use: next time
            continue
        dropped.append(name)
    return dropped


@contextmanager
def private_database(
    url: str, *, prefix: str = DEFAULT_PREFIX, stale_after: dt.timedelta = STALE_AFTER
) -> Iterator[str]:
    """Create a database of its own on the server of ``url``; yield its URL; drop it.

    Leftovers of crashed runs (same prefix, older than ``stale_after``) are
    dropped first. For SQLite the private database is a new file in a new
    temporary directory, removed at the end; the file ``url`` names is never opened.

    Args:
        url: a SQLAlchemy URL (MariaDB/MySQL, PostgreSQL, SQLite) or a MongoDB
            connection string naming the server.
        prefix: the start of the database's name.
        stale_after: the age after which a database of this prefix is a leftover.

    Yields:
        ``url`` naming the private database (same driver, host and credentials).

    Raises:
        DatabaseUnavailableError: the server cannot be reached, or the database
            cannot be created there (no privilege); nothing was created.
    """
    name = private_name(prefix)
    admin = _admin(url)
    if url.startswith("sqlite"):
        from occ.testing import _sql_admin

        private, directory = _sql_admin.sqlite_file(url, name)
        try:
            yield private
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    try:
        drop_stale_databases(url, prefix, stale_after=stale_after)
        admin.create(url, name)
    except Exception as exc:  # unreachable, no privilege
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise DatabaseUnavailableError(admin.describe(url), reason) from exc
    try:
        yield admin.with_database(url, name)
    finally:
        if unreachable(url) is None:
            admin.drop(url, name)
        # else: the server is gone (a private cluster stopped first), and the database
        # with it; nothing is left to drop.


class PrivateDatabases:
    """Private databases made on demand, one per server URL, all dropped by :meth:`close`.

    A session-scoped fixture holds one, so a run creates a database on a server
    only if a test needs that server, and once:

    ```text
    @pytest.fixture(scope="session")
    def databases():
        with PrivateDatabases() as made:
            yield made

    def test_orders(databases):
        engine = sa.create_engine(databases.url("postgresql+psycopg://app@db/app"))
    ```

    Args:
        prefix: the start of every database's name.
        stale_after: the age after which a database of this prefix is a leftover.
    """

    def __init__(
        self, *, prefix: str = DEFAULT_PREFIX, stale_after: dt.timedelta = STALE_AFTER
    ) -> None:
        self._prefix = prefix
        self._stale_after = stale_after
        self._stack = ExitStack()
        self._made: dict[str, str | DatabaseUnavailableError] = {}

    def url(self, server: str) -> str:
        """The URL of this holder's private database on the server of ``server``.

        Raises:
            DatabaseUnavailableError: it cannot be made (raised again on every
                later call, without trying again).
        """
        if server not in self._made:
            database = private_database(server, prefix=self._prefix, stale_after=self._stale_after)
            try:
                self._made[server] = self._stack.enter_context(database)
            except DatabaseUnavailableError as exc:
                self._made[server] = exc
        made = self._made[server]
        if isinstance(made, DatabaseUnavailableError):
            raise DatabaseUnavailableError(made.url, made.reason)
        return made

    def close(self) -> None:
        """Drop every database made so far (the last made first)."""
        self._made.clear()
        self._stack.close()

    def __enter__(self) -> PrivateDatabases:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
