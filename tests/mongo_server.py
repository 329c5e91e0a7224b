"""Session fixture for MongoDB: a private database on nx-27017 or on OCC_MONGODB_URI.

With ``OCC_MONGODB_URI`` set, the tests use that server (a real MongoDB,
ideally a replica set, where transactions and retryable writes are real).
Otherwise ``nx-27017`` (a MongoDB wire-protocol server, a dev dependency)
starts on a free port with an in-memory store and stops when the session
ends (:mod:`occ.testing.mongo_server`). Either way the URI handed to the
tests names a database of this run's own (``occ_t_<UTC time>_<random>``),
dropped at the end: tests reach it with ``client.get_default_database()``.
With ``CI`` set, a server that cannot start fails the run; locally it skips
the tests that need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from occ.testing.databases import DatabaseUnavailableError, private_database
from occ.testing.mongo_server import mongo_server
from tests.backends import unavailable


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    """The URI of this run's MongoDB database (on a server started here unless OCC_MONGODB_URI)."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(mongo_server())
            uri = stack.enter_context(private_database(server.uri))
        except DatabaseUnavailableError as exc:
            stack.close()
            unavailable(f"MongoDB: {exc}")
        yield uri
