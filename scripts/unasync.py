"""Generate the sync drivers (repositories, conflict stores) from their async sources.

    python scripts/unasync.py          # (re)write every generated file
    python scripts/unasync.py --check  # exit 1, printing a diff, if one is stale

Each rule replaces a literal piece of the async source by its sync spelling,
in one pass (a replacement is never rewritten again). A rule that starts or
ends with a letter, digit or underscore matches whole words only. ``--check``
also fails when a rule matched nothing: the sources and the rules drifted.
The output goes through ``ruff check --select I --fix`` and ``ruff format``.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
Rule = tuple[str, str]

COMMON: list[Rule] = [
    ("async def ", "def "),
    ("async with ", "with "),
    ("await ", ""),
    ("async for ", "for "),
    ("asynccontextmanager", "contextmanager"),
    ("AsyncIterator", "Iterator"),
    ("run_async", "run_sync"),
    ("AsyncRepository", "Repository"),
    ("the asyncio driver", "the synchronous driver"),
    ("fn: Callable[[T], Any]", "fn: Callable[[T], T | None]"),  # fn may return an awaitable
]

SQL: list[Rule] = [
    (
        "from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession",
        "from sqlalchemy import Connection, Engine\nfrom sqlalchemy.orm import Session",
    ),
    ("AsyncConnection", "Connection"),
    ("AsyncEngine", "Engine"),
    ("AsyncSession", "Session"),
    ("async_autocommit_engine", "autocommit_engine"),
    ("async_driver_sql_allowed", "driver_sql_allowed"),
    ("async_session_engine", "session_engine"),
    ("async_shares_one_connection", "shares_one_connection"),
    ("an async SQLAlchemy bind", "a SQLAlchemy bind"),
    (
        "The same methods as :class:`occ.sql.Repository`, awaited; ``modify`` accepts\n"
        "    a sync or an async function.\n\n    ",
        "",
    ),
    (
        "(for a sync Engine use occ.sql.Repository)",
        "(for an AsyncEngine use occ.sql.AsyncRepository)",
    ),
    ("``occ/sql/_sync.py`` is generated from this file", "Generated from ``occ/sql/_async.py``"),
]

MONGO: list[Rule] = [
    (
        "from typing import Any, Generic, TypeVar",
        "from typing import Any, Generic, TypeVar\n\nfrom pymongo.collection import Collection",
    ),
    ("collection: Any,", "collection: Collection[Any],"),
    ("async_collection_kind", "collection_kind"),
    ("async_start_session", "start_session"),
    ("async_start_transaction", "start_transaction"),
    (" over PyMongo and Motor.", " over PyMongo."),
    ("a PyMongo async or Motor collection", "a PyMongo collection"),
    (
        "The same methods and options as :class:`occ.mongo.Repository`, awaited;\n"
        "    ``modify`` and ``on_point`` accept a sync or an async function.\n\n    ",
        "",
    ),
    (
        "a collection of ``pymongo.AsyncMongoClient`` or of Motor's\n"
        "            ``AsyncIOMotorClient``",
        "a ``pymongo.collection.Collection``",
    ),
    (
        "``occ/mongo/_sync.py`` is generated from this file",
        "Generated from ``occ/mongo/_async.py``",
    ),
]

STORES: list[Rule] = [
    ("AsyncConflictStore", "ConflictStore"),
    ("AsyncStoreBase", "StoreBase"),
    ("_base_async", "_base_sync"),
]

STORE_BASE: list[Rule] = [
    ("is_async: ClassVar[bool] = True", "is_async: ClassVar[bool] = False"),
    (
        "``occ/conflicts/_base_sync.py`` is generated from this file",
        "Generated from ``occ/conflicts/_base_async.py``",
    ),
]

SQL_STORE: list[Rule] = [
    ("from sqlalchemy.ext.asyncio import AsyncEngine", "from sqlalchemy import Engine"),
    ("AsyncEngine", "Engine"),
    ("async_run_ddl", "run_ddl"),
    (
        "through an ``AsyncEngine``: :class:`ConflictStore`, awaited.",
        "through a sync ``Engine``.",
    ),
    (
        'got {type(engine).__name__}"',
        'got {type(engine).__name__} "\n"(for an AsyncEngine use AsyncConflictStore)"',
    ),
    (
        "``occ/conflicts/_sql_sync.py`` is generated from this file",
        "Generated from ``occ/conflicts/_sql_async.py``",
    ),
]

MONGO_STORE: list[Rule] = [
    ("a PyMongo async or Motor collection", "a PyMongo collection"),
    (", through PyMongo's async client or Motor.", " (PyMongo, sync)."),
    (
        "a ``pymongo.asynchronous`` collection or a Motor collection.",
        "a ``pymongo.collection.Collection``.",
    ),
    (
        "``occ/conflicts/_mongo_sync.py`` is generated from this file",
        "Generated from ``occ/conflicts/_mongo_async.py``",
    ),
]

MEMORY: list[Rule] = [
    ("AsyncInMemoryRepository", "InMemoryRepository"),
    ("MemoryBase, Value, as_async", "MemoryBase, Value"),
    ("as_async(self._read)", "self._read"),
    ("as_async(self._write)", "self._write"),
    ("fn: Callable[[Value], Any]", "fn: Callable[[Value], Value | None]"),
    (", for asyncio: same flows", ": same flows"),
    (
        "The same methods as :class:`InMemoryRepository`, awaited; ``modify`` and\n"
        "    ``on_point`` accept sync or async functions.\n\n    ",
        "",
    ),
    (
        "``occ/testing/_memory_sync.py`` is generated from this file",
        "Generated from ``occ/testing/_memory_async.py``",
    ),
]

COUNTER: list[Rule] = [
    ("async_counter_workload", "counter_workload"),
    ("AsyncWorkload", "Workload"),
    ("a counter workload over an async repository", "a counter workload over a repository"),
    ("any async occ repository", "any occ repository"),
    (
        "``occ/testing/_counter_sync.py`` is generated from this file",
        "Generated from ``occ/testing/_counter_async.py``",
    ),
]

FILES: dict[str, tuple[str, list[Rule]]] = {
    "occ/sql/_async.py": ("occ/sql/_sync.py", SQL),
    "occ/mongo/_async.py": ("occ/mongo/_sync.py", MONGO),
    "occ/conflicts/_base_async.py": ("occ/conflicts/_base_sync.py", STORES + STORE_BASE),
    "occ/conflicts/_sql_async.py": ("occ/conflicts/_sql_sync.py", STORES + SQL_STORE),
    "occ/conflicts/_mongo_async.py": ("occ/conflicts/_mongo_sync.py", STORES + MONGO_STORE),
    "occ/testing/_memory_async.py": ("occ/testing/_memory_sync.py", MEMORY),
    "occ/testing/_counter_async.py": ("occ/testing/_counter_sync.py", COUNTER),
}


def _pattern(rules: list[Rule]) -> re.Pattern[str]:
    def one(src: str) -> str:
        head = r"\b" if re.match(r"\w", src[0]) else ""
        tail = r"\b" if re.match(r"\w", src[-1]) else ""
        return head + re.escape(src) + tail

    return re.compile("|".join(one(src) for src, _ in sorted(rules, key=lambda r: -len(r[0]))))


def _ruff(args: list[str], text: str, path: str) -> str:
    cmd = [sys.executable, "-m", "ruff", *args, "--stdin-filename", path, "-"]
    done = subprocess.run(cmd, input=text, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"ruff {args[0]} failed on the generated {path}:\n{done.stderr}{done.stdout}")
    return done.stdout


def unasync(source: str, target: str, rules: list[Rule], used: set[Rule]) -> str:
    """The sync twin of ``source`` (a path relative to the repository root)."""
    table = dict(rules)

    def swap(match: re.Match[str]) -> str:
        used.add((match[0], table[match[0]]))
        return table[match[0]]

    text = _pattern(rules).sub(swap, (ROOT / source).read_text())
    header = f"# Generated from {source} by scripts/unasync.py: edit that file, not this one.\n"
    isort = ["--select=I", "--config=lint.isort.known-first-party=['occ']", "--fix", "--exit-zero"]
    text = _ruff(["check", "--quiet", *isort], header + text, target)
    return _ruff(["format", "--quiet"], text, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    check = parser.parse_args().check
    used: set[Rule] = set()
    failed = False
    for source, (target, rules) in FILES.items():
        new = unasync(source, target, COMMON + rules, used)
        path = ROOT / target
        old = path.read_text() if path.exists() else ""
        if new == old:
            continue
        if check:
            failed = True
            print(f"{target} is stale (run python scripts/unasync.py):")
            diff = difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), target, target
            )
            sys.stdout.writelines(diff)
        else:
            path.write_text(new)
            print(f"wrote {target}")
    all_rules = COMMON + [rule for _, rules in FILES.values() for rule in rules]
    for src, dst in [rule for rule in all_rules if rule not in used]:
        failed = True
        print(f"unused rewrite rule: {src!r} -> {dst!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
