"""``occ conflicts list | show | resolve | purge | serve | upgrade`` over a conflict store."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

from occ._cli._common import CliError
from occ._cli._stores import ENV, OpenStore, open_store, store_url

__all__ = ["add_parser", "run"]


def _filters(parser: argparse.ArgumentParser, status_default: str | None) -> None:
    parser.add_argument(
        "--status",
        default=status_default,
        help="only this status: open (not resolved), pending, discarded, overwritten, resolved",
    )
    parser.add_argument("--entity", help="only this entity (table, model or collection)")
    parser.add_argument("--older-than", metavar="AGE", help="only conflicts older than AGE (2d)")
    parser.add_argument("--newer-than", metavar="AGE", help="only conflicts newer than AGE (12h)")


def add_parser(sub: Any) -> None:
    """Add ``occ conflicts`` and its subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"the conflict store's database (default: ${ENV})")
    common.add_argument(
        "--store", default="occ_conflicts", help="its table or collection (occ_conflicts)"
    )
    writes = argparse.ArgumentParser(add_help=False)
    writes.add_argument("--table", help="the entity's table or collection (default: its name)")
    writes.add_argument("--version-column", default="version", help="its version column")
    writes.add_argument(
        "--model",
        metavar="MODULE:CLASS",
        help="your mapped class (or Table, or Mongo model): values are written through its "
        "types; without it the table is reflected",
    )
    writes.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    conflicts = sub.add_parser(
        "conflicts",
        help="review conflicts set aside in a conflict store",
        description="List, show, resolve and purge the conflicts an Alert or an archiving "
        "Discard/Overwrite stored, or serve the review web app. IDs may be abbreviated to "
        "any unique prefix.",
    )
    verbs = conflicts.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", parents=[common], help="stored conflicts, oldest first")
    _filters(listing, None)
    listing.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = verbs.add_parser("show", parents=[common], help="one conflict: base, mine, theirs")
    show.add_argument("id", help="the conflict's id (or a unique prefix of it)")
    show.add_argument("--json", action="store_true", help="print JSON")
    resolve = verbs.add_parser(
        "resolve",
        parents=[common, writes],
        help="settle conflicts: write mine, or keep theirs",
        description="--take mine writes my changes, expecting the version stored when the "
        "conflict happened (if the row moved since, nothing is written and the conflict stays "
        "open: add --force to write mine over the current version, after confirmation); "
        "--take theirs keeps what is stored; --take dismiss settles it without reading or "
        "writing. With --all instead of an id, every conflict the filters select is settled "
        "the same way, after confirmation.",
    )
    resolve.add_argument("id", nargs="?", help="the conflict's id (or a unique prefix of it)")
    resolve.add_argument("--take", choices=("mine", "theirs", "dismiss"), required=True)
    resolve.add_argument(
        "--force", action="store_true", help="take mine at the current version (asks first)"
    )
    resolve.add_argument("--all", action="store_true", help="every conflict the filters select")
    _filters(resolve, "open")
    resolve.add_argument("--by", help="who resolves (default: cli:$USER)")
    purge = verbs.add_parser(
        "purge",
        parents=[common],
        help="delete resolved conflicts settled longer ago than AGE",
    )
    purge.add_argument("--older-than", metavar="AGE", required=True, help="e.g. 30d, 12h")
    purge.add_argument("--entity", help="only this entity")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    verbs.add_parser(
        "upgrade", parents=[common], help="add to a SQL store the columns newer releases use"
    )
    from occ._cli._conflicts_serve import add_serve_parser

    add_serve_parser(verbs, common)


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

    where = filter_of(args)
    records = opened.store.list(where=where, limit=args.limit)
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
    total = opened.store.count(where=where)
    if total > len(records):
        print(f"({len(records)} of {total} shown; use --limit)")
    return 0


def filter_of(args: argparse.Namespace) -> Any:
    """The store filter of ``--status``, ``--entity``, ``--older-than``, ``--newer-than``."""
    from occ.conflicts import Filter, parse_age
    from occ.errors import ValidationError

    try:
        return Filter.of(
            status=args.status,
            entity=args.entity,
            older_than=parse_age(args.older_than) if args.older_than else None,
            newer_than=parse_age(args.newer_than) if args.newer_than else None,
        )
    except ValidationError as exc:
        raise CliError(str(exc)) from None


def get_record(opened: OpenStore, cid: str) -> Any:
    """The stored conflict whose id is ``cid`` or starts with it."""
    from occ.errors import NotFoundError, ValidationError

    try:
        return opened.store.get_by_prefix(cid)
    except NotFoundError:
        raise CliError(f"no conflict with id {cid!r} in this store") from None
    except ValidationError as exc:
        raise CliError(str(exc)) from None


def _show(opened: OpenStore, args: argparse.Namespace) -> int:
    from occ._cli._conflicts_view import as_json, header, side_by_side

    record = get_record(opened, args.id)
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
        print(f"settle it: occ conflicts resolve {record.id[:8]} --take mine|theirs|dismiss")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``occ conflicts VERB``."""
    from occ._cli import _conflicts_bulk, _conflicts_serve

    # SQLite keeps Decimal as text or float: SQLAlchemy's warning says so on every write.
    warnings.filterwarnings("ignore", message=r".*does \*not\* support Decimal objects")
    opened = open_store(store_url(args.url), args.store, upgrading=args.verb == "upgrade")
    try:
        verb = {
            "list": _list,
            "show": _show,
            "resolve": _conflicts_bulk.resolve,
            "purge": _conflicts_bulk.purge,
            "upgrade": _conflicts_bulk.upgrade,
            "serve": _conflicts_serve.serve,
        }[args.verb]
        return verb(opened, args)
    finally:
        opened.close()
