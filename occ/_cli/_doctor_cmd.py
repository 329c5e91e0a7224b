"""``occ doctor URL``: check a database for what optimistic locking relies on."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from occ._cli._common import connect_mongo, connect_sql, kind_of, safe_uri

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``occ doctor`` to the subcommands."""
    doctor = sub.add_parser(
        "doctor",
        help="check a database for what optimistic locking relies on",
        description="Check a real database: matched rowcounts, isolation, RETURNING, "
        "timestamp precision, server version (SQL); topology, write concern, read "
        "preference, retryable writes, transactions (MongoDB). Writes only to a scratch "
        "table or collection it creates and drops. Exit status 1 when a check fails.",
    )
    doctor.add_argument("url", help="SQLAlchemy URL or mongodb:// URI")
    doctor.add_argument("--table", help="also check that this table has a version column")
    doctor.add_argument("--version-column", default="version", help="its name (version)")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")


def run(args: argparse.Namespace) -> int:
    """Run ``occ doctor``: 0 when no check failed, 1 otherwise."""
    from occ._cli._checks import exit_status, plain_lines, render_json, render_table

    url: str = args.url
    if kind_of(url) == "mongo":
        from occ._cli._doctor_mongo import mongo_checks

        client = connect_mongo(url)
        try:
            checks = mongo_checks(client)
        finally:
            client.close()
        shown = safe_uri(url)
    else:
        import occ.sql
        from occ._cli._doctor_sql import check_table, sql_checks

        engine = connect_sql(url)
        try:
            shown = engine.url.render_as_string(hide_password=True)
            table = check_table(engine, args.table, args.version_column) if args.table else None
            checks = sql_checks(engine)
            if table is not None:
                checks.append(table)
        finally:
            occ.sql.dispose(engine)
    title = f"occ doctor {shown}"
    if args.json:
        print(render_json(shown, checks))
    elif sys.stdout.isatty():
        try:
            from rich.console import Console
        except ImportError:  # no cli extra: plain text
            print("\n".join(plain_lines(title, checks)))
        else:
            render_table(title, checks, Console())
    else:
        print("\n".join(plain_lines(title, checks)))
    return exit_status(checks)
