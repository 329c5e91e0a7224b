"""The ``occ`` pytest plugin: Hypothesis profiles and fixtures for concurrent-writer tests.

Profiles ``occ-ci`` (25 derandomized examples, no deadline) and ``occ-dev``
(200 examples, no deadline) are registered when the plugin is imported, and
never loaded: the plugin changes no setting of the project that installs it.
A project opts in with ``pytest --hypothesis-profile=occ-ci`` (Hypothesis's
own option; put it in ``addopts`` to make it the default) or with
``settings.load_profile("occ-ci")`` in its ``conftest.py``.

Fixtures:

- ``occ_history``: a fresh :class:`~occ.testing.History`.
- ``occ_backend``: each configured backend in turn (the test is parametrized):
  ``memory``; ``sqlite`` (a new file in the test's temp dir); ``mongodb``
  (``OCC_MONGODB_URI``, else an ``nx-27017`` emulator started for the
  session); a SQLAlchemy URL or a MongoDB URI. Configure with
  ``--occ-backend`` (repeatable) or the ``occ_backends`` ini option; default:
  ``memory`` and ``sqlite``.
- ``occ_repository``: a factory, ``occ_repository(table, **kwargs)``, returning a
  repository of ``table`` (a ``Table`` or a mapped class) on the current
  backend, built with ``on_point=occ.testing.on_point`` so schedules can drive
  it. The fixture never writes to the database a URL names: it creates a
  scratch database on that server for the session (``occ_scratch_<UTC
  time>_<random>``, dropped at the end; this needs the privilege to create a
  database), creates the table there, and drops it after the test. A table (or
  collection) that already exists where it would create one is refused with
  an error and left untouched. On ``memory`` and MongoDB the values are dicts:
  pass a ``Table`` (a mapped class skips the test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from occ.testing._history import History

if TYPE_CHECKING:
    from occ.testing.databases import PrivateDatabases

DEFAULT_BACKENDS = ("memory", "sqlite")
#: the prefix of the scratch databases ``occ_repository`` creates on a server.
SCRATCH_PREFIX = "occ_scratch_"


def _register_profiles() -> None:
    """Make ``occ-ci`` and ``occ-dev`` known to Hypothesis; load neither."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # hypothesis is the testing extra
        return
    checks = [HealthCheck.too_slow]
    settings.register_profile(
        "occ-ci", max_examples=25, derandomize=True, deadline=None, suppress_health_check=checks
    )
    settings.register_profile(
        "occ-dev", max_examples=200, deadline=None, suppress_health_check=checks
    )


# At import, before any conftest.py or ``--hypothesis-profile`` may name them.
_register_profiles()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("occ")
    group.addoption(
        "--occ-backend",
        action="append",
        default=None,
        dest="occ_backends",
        help="backend for occ_repository: memory, sqlite, mongodb, a SQLAlchemy URL or a "
        "MongoDB URI (repeatable); a URL names the server, never written to",
    )
    parser.addini("occ_backends", "backends for occ_repository", type="linelist", default=[])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "occ_backend" in metafunc.fixturenames:
        config = metafunc.config
        backends = config.getoption("occ_backends") or config.getini("occ_backends")
        chosen = list(backends) or list(DEFAULT_BACKENDS)
        metafunc.parametrize("occ_backend", chosen, ids=_backend_id)


def _backend_id(backend: str) -> str:
    return backend if "://" not in backend else backend.split("://", 1)[0]


@pytest.fixture
def occ_history() -> History:
    """A fresh, empty history."""
    return History()


@pytest.fixture(scope="session")
def _occ_scratch_databases() -> Iterator[PrivateDatabases]:
    """The session's scratch database on each server a backend names, dropped at the end."""
    from occ.testing.databases import PrivateDatabases

    with PrivateDatabases(prefix=SCRATCH_PREFIX) as databases:
        yield databases


@pytest.fixture(scope="session")
def _occ_mongodb_server() -> Iterator[str]:
    """``OCC_MONGODB_URI``, or an nx-27017 emulator started for the session."""
    from occ.testing.mongo_server import mongo_server

    with mongo_server() as server:
        yield server.uri


def _is_mongodb(backend: str) -> bool:
    return backend == "mongodb" or backend.startswith(("mongodb://", "mongodb+srv://"))


def _scratch_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """Where the backend's repositories live: never the database the backend names."""
    if backend == "memory":
        return None
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'occ.sqlite3'}"
    server = request.getfixturevalue("_occ_mongodb_server") if backend == "mongodb" else backend
    databases: PrivateDatabases = request.getfixturevalue("_occ_scratch_databases")
    return databases.url(server)


@pytest.fixture
def occ_repository(
    occ_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """A factory of repositories on the current backend: ``occ_repository(table, **kwargs)``."""
    import sqlalchemy as sa

    from occ.testing._scratch import Scratch, key_of

    url = _scratch_url(occ_backend, request, tmp_path)
    scratch = Scratch()

    def make(model: Any, **kwargs: Any) -> Any:
        from occ.testing._schedule import on_point

        kwargs.setdefault("on_point", on_point)
        if url is None or _is_mongodb(occ_backend):
            if not isinstance(model, sa.Table):
                pytest.skip(
                    f"{_backend_id(occ_backend)} stores dicts: pass a Table, not a mapped class"
                )
            if url is None:
                from occ.testing import InMemoryRepository

                return InMemoryRepository(key=key_of(model), name=model.name, **kwargs)
            import occ.mongo

            collection = scratch.collection(url, model)
            return occ.mongo.Repository(collection, key=key_of(model), **kwargs)
        import occ.sql

        return occ.sql.Repository(scratch.create_tables(url, model), model, **kwargs)

    yield make
    scratch.close()
