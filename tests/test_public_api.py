"""The public contract's names (docs/concepts.md), a sorted __all__, a core free of drivers."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import occ


def test_contract_names_import() -> None:
    from occ import (  # noqa: F401
        AlreadyExistsError,
        Conflict,
        ConflictError,
        NotFoundError,
        OCCError,
        RetryExhaustedError,
        ValidationError,
        Versioned,
        resolvers,
    )
    from occ.mongo import AsyncRepository as MongoAsyncRepository
    from occ.mongo import Repository as MongoRepository
    from occ.resolvers import Alert, Discard, Merge, Overwrite, Raise  # noqa: F401
    from occ.resolvers.rules import Counter, Max, Min, Mine, Theirs, Union  # noqa: F401
    from occ.sql import AsyncRepository, Repository
    from occ.testing import History, InMemoryRepository, check_history  # noqa: F401

    for sync, async_ in ((Repository, AsyncRepository), (MongoRepository, MongoAsyncRepository)):
        contract = {"get", "find", "insert", "update", "save", "delete", "modify"}
        assert contract <= set(dir(sync))
        assert contract <= set(dir(async_))

    assert issubclass(ConflictError, OCCError)
    assert issubclass(occ.DeletedError, ConflictError)
    assert issubclass(occ.DeletedError, NotFoundError)


def test_all_is_sorted_and_lists_every_public_name() -> None:
    assert occ.__all__ == sorted(occ.__all__)
    names = {
        n
        for n in dir(occ)
        if not n.startswith("_") and not isinstance(getattr(occ, n), types.ModuleType)
    } - {"annotations"}
    assert {n for n in occ.__all__ if not isinstance(getattr(occ, n), types.ModuleType)} - {
        "__version__"
    } == names


def test_core_imports_no_driver_and_no_asyncio() -> None:
    code = (
        "import sys, occ, occ.resolvers, occ.policies, occ._core.flow;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'asyncio','sqlalchemy','pymongo','motor','pymysql','psycopg','aiosqlite','aiomysql','sqlite3'});"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_public_package_exports_names_it_has() -> None:
    import importlib

    for name in (
        "occ",
        "occ.sql",
        "occ.mongo",
        "occ.resolvers",
        "occ.resolvers.rules",
        "occ.policies",
        "occ.testing",
        "occ.testing.databases",
        "occ.testing.mongo_server",
        "occ.conflicts",
        "occ.conflicts.sql",
        "occ.conflicts.mongo",
        "occ.conflicts.sinks",
        "occ.errors",
        "occ.http",
        "occ.orm",
        "occ.migrations",
    ):
        module = importlib.import_module(name)
        exported = list(module.__all__)
        # the order itself is ruff's (RUF022, isort-style), checked by `ruff check`
        assert len(set(exported)) == len(exported), name
        for attr in exported:
            assert hasattr(module, attr), f"{name}.{attr}"
            if not attr.startswith("__"):
                documented = getattr(module, attr)
                if inspect.isfunction(documented) or inspect.isclass(documented):
                    assert (documented.__doc__ or "").strip(), f"{name}.{attr} has no docstring"
