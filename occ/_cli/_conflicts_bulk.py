"""``occ conflicts resolve`` (one, forced, or all a filter selects), ``purge``, ``upgrade``."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from occ._cli._common import CliError
from occ._cli._conflicts_cmd import filter_of, get_record
from occ._cli._stores import OpenStore, load_model

__all__ = ["confirm", "purge", "resolve", "upgrade"]

#: at most this many conflicts are settled by one ``resolve --all``.
BULK_LIMIT = 1000


def confirm(question: str, yes: bool) -> bool:
    """``--yes``, or the answer typed on standard input (no input: no)."""
    if yes:
        return True
    print(f"{question} [y/N] ", end="", flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):  # no standard input
        answer = ""
    print()
    return answer.strip().lower() in ("y", "yes")


def _who(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        return "cli"


class _Repositories:
    """One repository per entity, built on first use."""

    def __init__(self, opened: OpenStore, args: argparse.Namespace) -> None:
        self.opened = opened
        self.args = args
        self.model = load_model(args.model) if args.model else None
        self.built: dict[str, Any] = {}

    def of(self, entity: str) -> Any:
        if entity not in self.built:
            a = self.args
            self.built[entity] = self.opened.repository(
                entity, a.table, a.version_column, self.model
            )
        return self.built[entity]


def _settle_one(
    opened: OpenStore, repos: _Repositories, record: Any, args: argparse.Namespace, expected: Any
) -> tuple[int, str]:
    """Settle ``record``: (exit status, one line saying what happened)."""
    from occ.errors import ConflictError, NotFoundError, ValidationError

    c = record.conflict
    what = f"{c.entity} {c.key!r}"
    by = _who(args)
    try:
        if args.take == "dismiss":
            opened.store.dismiss(record.id, by=by)
            return 0, f"dismissed {record.id}: {what} left as it is"
        result = opened.store.resolve(
            record.id, repos.of(c.entity), take=args.take, expected_version=expected, by=by
        )
    except ConflictError as exc:
        now = exc.conflict.actual_version
        state = "deleted" if now is None else f"now at version {now}"
        wanted = expected if expected is not None else c.actual_version
        return 1, (
            f"{record.id}: {what} moved since the conflict ({state}, not {wanted}); nothing "
            "written, the conflict stays open (--force takes mine over the current version)"
        )
    except NotFoundError:
        return 1, f"{record.id}: {what} no longer exists; nothing written (--take theirs)"
    except ValidationError as exc:
        raise CliError(str(exc)) from None
    where = "deleted" if result is None else f"at version {result.version}"
    return 0, f"resolved {record.id}: took {args.take}; {what} is {where}"


def _forced_version(opened: OpenStore, repos: _Repositories, record: Any, yes: bool) -> Any:
    """The current version to take mine over, once the user agreed; ``None`` if they did not."""
    from occ._cli._conflicts_view import short

    c = record.conflict
    current = repos.of(c.entity).find(c.key)
    if current is None:
        raise CliError(f"{c.entity} {c.key!r} no longer exists: there is nothing to write over")
    theirs = current.base or {}
    saw = f"(the conflict saw {c.actual_version})"
    print(f"{c.entity} {c.key!r} is at version {current.version} {saw}")
    for name, value in c.changes.items():
        print(f"  {name}: {short(theirs.get(name), 40)} -> {short(value, 40)}")
    if not confirm(f"write mine over version {current.version}?", yes):
        return None
    return current.version


def resolve(opened: OpenStore, args: argparse.Namespace) -> int:
    """``occ conflicts resolve ID | --all``."""
    if (args.id is None) == (not args.all):
        raise CliError("name one conflict id, or pass --all to settle what the filters select")
    if args.force and (args.all or args.take != "mine"):
        raise CliError("--force takes mine for one conflict: pass an id and --take mine")
    repos = _Repositories(opened, args)
    if not args.all:
        record = get_record(opened, args.id)
        if record.status == "resolved":
            raise CliError(f"conflict {record.id} is already resolved (took {record.resolution})")
        expected = None
        if args.force:
            expected = _forced_version(opened, repos, record, args.yes)
            if expected is None:
                print("nothing written", file=sys.stderr)
                return 1
        status, line = _settle_one(opened, repos, record, args, expected)
        print(line, file=sys.stderr if status else sys.stdout)
        return status
    where = filter_of(args)
    records = opened.store.list(where=where, limit=BULK_LIMIT)
    records = [r for r in records if r.status != "resolved"]
    if not records:
        print("no open conflict matches")
        return 0
    entities = sorted({r.entity for r in records})
    if not confirm(
        f"take {args.take} for {len(records)} conflicts on {', '.join(entities)}?", args.yes
    ):
        print("nothing written", file=sys.stderr)
        return 1
    failed = 0
    for record in records:
        status, line = _settle_one(opened, repos, record, args, None)
        failed += status
        print(line)
    print(f"{len(records) - failed} settled, {failed} left open")
    return 1 if failed else 0


def purge(opened: OpenStore, args: argparse.Namespace) -> int:
    """``occ conflicts purge --older-than AGE``: delete resolved conflicts settled before it."""
    from occ.conflicts import Filter, parse_age
    from occ.conflicts._query import utcnow
    from occ.errors import ValidationError

    try:
        age = parse_age(args.older_than)
    except ValidationError as exc:
        raise CliError(str(exc)) from None
    cutoff = utcnow() - age
    entities = None if args.entity is None else [args.entity]
    found = Filter(status="resolved", resolved_before=cutoff, entity=args.entity)
    count = opened.store.count(where=found)
    if count == 0:
        print(f"no resolved conflict settled more than {args.older_than} ago")
        return 0
    if not confirm(
        f"delete {count} resolved conflicts settled more than {args.older_than} ago?", args.yes
    ):
        print("nothing deleted", file=sys.stderr)
        return 1
    deleted = opened.store.purge(cutoff, entities=entities)
    print(f"deleted {deleted} resolved conflicts")
    return 0


def upgrade(opened: OpenStore, args: argparse.Namespace) -> int:
    """``occ conflicts upgrade``: add the columns newer releases use to a SQL store's table."""
    if opened.kind == "mongo":
        print("a MongoDB store needs no upgrade")
        return 0
    opened.store.create()
    print(f"conflict store {opened.store.table.name!r} is up to date")
    return 0
