"""``occ conflicts list | show ID | resolve ID --take mine|theirs`` over a conflict store."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from occ._cli._common import CliError
from occ._cli._stores import ENV, OpenStore, open_store, store_url

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``occ conflicts`` and its three subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"the conflict store's database (default: ${ENV})")
    common.add_argument(
        "--store", default="occ_conflicts", help="its table or collection (occ_conflicts)"
    )
    conflicts = sub.add_parser(
        "conflicts",
        help="review conflicts set aside in a conflict store",
        description="List, show and resolve the conflicts an Alert or an archiving "
        "Discard/Overwrite stored.",
    )
    verbs = conflicts.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", parents=[common], help="stored conflicts, oldest first")
    listing.add_argument(
        "--status", help="only this status: pending, discarded, overwritten, resolved"
    )
    listing.add_argument("--entity", help="only this entity (table, model or collection)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = verbs.add_parser("show", parents=[common], help="one conflict: base, mine, theirs")
    show.add_argument("id", help="the conflict's id")
    show.add_argument("--json", action="store_true", help="print JSON")
    resolve = verbs.add_parser(
        "resolve",
        parents=[common],
        help="settle a conflict: write mine, or keep theirs",
        description="--take mine writes my changes, expecting the version stored when the "
        "conflict happened (if the row moved since, nothing is written and the conflict stays "
        "open); --take theirs keeps what is stored. Either way the conflict is marked resolved.",
    )
    resolve.add_argument("id", help="the conflict's id")
    resolve.add_argument("--take", choices=("mine", "theirs"), required=True)
    resolve.add_argument("--table", help="the entity's table or collection (default: its name)")
    resolve.add_argument("--version-column", default="version", help="its version column")


def _console() -> Any:
    if not sys.stdout.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:  # no cli extra: plain text
        return None
    return Console()


def _list(opened: OpenStore, args: argparse.Namespace) -> int:
    from occ._cli._conflicts_view import LIST_COLUMNS, as_json, list_lines, summary_row

    records = opened.store.list(status=args.status, entity=args.entity, limit=args.limit)
    if args.json:
        print(json.dumps([as_json(r) for r in records], indent=2))
        return 0
    if not records:
        print("no conflicts stored" + (f" with status {args.status}" if args.status else ""))
        return 0
    console = _console()
    if console is None:
        print("\n".join(list_lines(records)))
    else:
        from rich.table import Table

        table = Table(*LIST_COLUMNS)
        for record in records:
            table.add_row(*summary_row(record))
        console.print(table)
    total = opened.store.count(status=args.status, entity=args.entity)
    if total > len(records):
        print(f"({len(records)} of {total} shown; use --limit)")
    return 0


def _get(opened: OpenStore, cid: str) -> Any:
    from occ.errors import NotFoundError

    try:
        return opened.store.get(cid)
    except NotFoundError:
        raise CliError(f"no conflict with id {cid!r} in this store") from None


def _show(opened: OpenStore, args: argparse.Namespace) -> int:
    from occ._cli._conflicts_view import as_json, header, side_by_side

    record = _get(opened, args.id)
    if args.json:
        print(json.dumps(as_json(record), indent=2))
        return 0
    columns, rows = side_by_side(record)
    console = _console()
    print("\n".join(header(record)))
    if console is None:
        widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
        for row in [columns, *rows]:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    else:
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*row, style="bold" if row[4].startswith("both") else None)
        console.print(table)
    if record.status != "resolved":
        print(f"settle it: occ conflicts resolve {record.id} --take mine|theirs")
    return 0


def _resolve(opened: OpenStore, args: argparse.Namespace) -> int:
    from occ.errors import ConflictError, ValidationError

    record = _get(opened, args.id)
    if record.status == "resolved":
        raise CliError(f"conflict {record.id} is already resolved (took {record.resolution})")
    c = record.conflict
    repo = opened.repository(c.entity, args.table, args.version_column)
    try:
        result = opened.store.resolve(record.id, repo, take=args.take)
    except ConflictError as exc:
        now = exc.conflict.actual_version
        print(
            f"occ conflicts: {c.entity} {c.key!r} moved since the conflict (now at version "
            f"{now}, not {c.actual_version}); nothing written, the conflict stays open",
            file=sys.stderr,
        )
        return 1
    except ValidationError as exc:
        raise CliError(str(exc)) from None
    where = "deleted" if result is None else f"at version {result.version}"
    print(f"resolved {record.id}: took {args.take}; {c.entity} {c.key!r} is {where}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``occ conflicts VERB``."""
    opened = open_store(store_url(args.url), args.store)
    try:
        verb = {"list": _list, "show": _show, "resolve": _resolve}[args.verb]
        return verb(opened, args)
    finally:
        opened.close()
