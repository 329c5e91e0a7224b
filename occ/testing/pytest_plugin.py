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
  ``memory``, ``sqlite`` (a file in the test's temp dir) or a SQLAlchemy URL.
  Configure with ``--occ-backend`` (repeatable) or the ``occ_backends`` ini
  option; default: ``memory`` and ``sqlite``.
- ``occ_repository``: a factory, ``occ_repository(table, **kwargs)``, returning a
  repository of ``table`` on the current backend, built with
  ``on_point=occ.testing.on_point`` so schedules can drive it. The table is
  dropped and created first. On ``memory`` the table must be a ``Table`` (its
  values are dicts there too), else the test is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from occ.testing._history import History

DEFAULT_BACKENDS = ("memory", "sqlite")


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
        help="backend for occ_repository: memory, sqlite or a SQLAlchemy URL (repeatable)",
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


@pytest.fixture
def occ_repository(occ_backend: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory of repositories on the current backend: ``occ_repository(table, **kwargs)``."""
    engines: list[Any] = []

    def make(model: Any, **kwargs: Any) -> Any:
        import sqlalchemy as sa

        from occ.testing._memory_sync import InMemoryRepository
        from occ.testing._schedule import on_point

        kwargs.setdefault("on_point", on_point)
        table = model if isinstance(model, sa.Table) else getattr(model, "__table__", None)
        if occ_backend == "memory":
            if not isinstance(model, sa.Table):
                pytest.skip("the memory backend stores dicts: pass a Table, not a mapped class")
            (key,) = (c.key for c in model.primary_key.columns)
            return InMemoryRepository(key=key, name=model.name, **kwargs)
        import occ.sql

        url = f"sqlite:///{tmp_path / 'occ.sqlite3'}" if occ_backend == "sqlite" else occ_backend
        engine = sa.create_engine(url)
        engines.append(engine)
        if table is not None:
            table.drop(engine, checkfirst=True)
            table.create(engine)
        return occ.sql.Repository(engine, model, **kwargs)

    yield make
    if engines:
        import occ.sql

        for engine in engines:
            occ.sql.dispose(engine)
