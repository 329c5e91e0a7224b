"""Generate every ``_sync/`` package of occ from its sibling ``_async/`` package.

    python scripts/unasync.py          # (re)write every generated file
    python scripts/unasync.py --check  # exit 1, printing a diff, if one is stale

The drivers are written once, for asyncio, under ``occ/**/_async/``; this
script mirrors each such directory to ``_sync/`` beside it, file by file,
with one table of identifier-only rules (whole words, in one pass):
``async def`` → ``def``, ``await x`` → ``x``, ``AsyncName`` → ``Name``,
``aname`` → ``name``, ``_async`` → ``_sync``. ``--check`` also fails when a
generated file has no source, or a rule matched nothing (the sources and the
rules drifted). The output goes through ``ruff check --select I --fix`` and
``ruff format``.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: keywords of the async mode.
KEYWORDS = {
    "async def": "def",
    "async with": "with",
    "async for": "for",
    "await ": "",
}

#: identifiers of the async mode and their sync twins.
IDENTIFIERS = {
    "_async": "_sync",
    "AsyncConnection": "Connection",
    "AsyncEngine": "Engine",
    "AsyncSession": "Session",
    "AsyncIterator": "Iterator",
    "asynccontextmanager": "contextmanager",
    "AsyncRepository": "Repository",
    "AsyncRepositoryBase": "RepositoryBase",
    "AsyncBulkMethods": "BulkMethods",
    "AsyncSQLBulk": "SQLBulk",
    "AsyncMongoBulk": "MongoBulk",
    "AsyncInMemoryRepository": "InMemoryRepository",
    "AsyncConflictStore": "ConflictStore",
    "AsyncStoreBase": "StoreBase",
    "AsyncWorkload": "Workload",
    "AsyncScheduler": "Scheduler",
    "aperform": "perform",
    "acall": "call",
    "asleep": "sleep",
    "agather": "gather",
    "aadd": "add",
    "anotify": "notify",
    "arun_ddl": "run_ddl",
    "acreate_tables": "create_tables",
    "atransaction": "transaction",
    "acheck_collection": "check_collection",
    "astart_session": "start_session",
    "astart_transaction": "start_transaction",
    "ahammer": "hammer",
    "arun_schedule": "run_schedule",
    "acounter_workload": "counter_workload",
    "AsyncReplica": "Replica",
    "AsyncRelay": "Relay",
    "AsyncOutboxReader": "OutboxReader",
    "AsyncPublisher": "Publisher",
    "AsyncConsumer": "Consumer",
    "AsyncRedis": "Redis",
    "AsyncRedisStreams": "RedisStreams",
    "AsyncRedisSubscriber": "RedisSubscriber",
    "aclose": "close",
    "AsyncMongoReplica": "MongoReplica",
    "AsyncPushClient": "PushClient",
    "AsyncClient": "Client",
    "AsyncMongoOutboxReader": "MongoOutboxReader",
    "aoutbox_write": "outbox_write",
    "aoutbox_mode": "outbox_mode",
    "_ain_transaction": "_in_transaction",
    "_aabort": "_abort",
}

RULES = {**KEYWORDS, **IDENTIFIERS}


def _pattern() -> re.Pattern[str]:
    def one(src: str) -> str:
        head = r"\b" if re.match(r"\w", src[0]) else ""
        tail = r"\b" if re.match(r"\w", src[-1]) else ""
        return head + re.escape(src) + tail

    return re.compile("|".join(one(src) for src in sorted(RULES, key=lambda s: -len(s))))


def pairs(root: Path = ROOT) -> list[tuple[Path, Path]]:
    """Every async source under ``occ/`` and the sync file generated from it."""
    out = []
    for source_dir in sorted((root / "occ").glob("**/_async")):
        for source in sorted(source_dir.glob("*.py")):
            out.append((source, source_dir.parent / "_sync" / source.name))
    return out


def _ruff(args: list[str], text: str, path: str) -> str:
    cmd = [sys.executable, "-m", "ruff", *args, "--stdin-filename", path, "-"]
    done = subprocess.run(cmd, input=text, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"ruff {args[0]} failed on the generated {path}:\n{done.stderr}{done.stdout}")
    return done.stdout


def unasync(source: Path, target: Path, root: Path, used: set[str]) -> str:
    """The sync twin of ``source``."""

    def swap(match: re.Match[str]) -> str:
        used.add(match[0])
        return RULES[match[0]]

    text = _pattern().sub(swap, source.read_text())
    rel = source.relative_to(root).as_posix()
    header = f"# Generated from {rel} by scripts/unasync.py: edit that file.\n"
    isort = ["--select=I", "--config=lint.isort.known-first-party=['occ']", "--fix", "--exit-zero"]
    name = target.relative_to(root).as_posix()
    text = _ruff(["check", "--quiet", *isort], header + text, name)
    return _ruff(["format", "--quiet"], text, name)


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    check = parser.parse_args(argv).check
    used: set[str] = set()
    failed = False
    expected: set[Path] = set()
    for source, target in pairs(root):
        expected.add(target)
        new = unasync(source, target, root, used)
        old = target.read_text() if target.exists() else ""
        if new == old:
            continue
        name = target.relative_to(root).as_posix()
        if check:
            failed = True
            print(f"{name} is stale (run python scripts/unasync.py):")
            diff = difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), name, name
            )
            sys.stdout.writelines(diff)
        else:
            target.parent.mkdir(exist_ok=True)
            target.write_text(new)
            print(f"wrote {name}")
    for stray in sorted((root / "occ").glob("**/_sync/*.py")):
        if stray not in expected:
            name = stray.relative_to(root).as_posix()
            if check:
                failed = True
                print(f"{name} has no async source")
            else:
                stray.unlink()
                print(f"removed {name}")
    for src in sorted(set(RULES) - used):
        failed = True
        print(f"unused rewrite rule: {src!r} -> {RULES[src]!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
