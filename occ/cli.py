"""The ``occ`` command: ``occ demo`` (more commands come with the CLI work)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="occ", description="Optimistic concurrency toolkit.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="concurrent writers on hot rows; nothing lost")
    demo.add_argument("--url", help="SQLAlchemy URL (default: an embedded SQLite file)")
    demo.add_argument("--writers", type=_positive, default=8)
    demo.add_argument("--ops", type=_positive, default=50, help="increments per writer")
    demo.add_argument("--rows", type=_positive, default=3, help="hot rows")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``occ`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from occ._demo import run_demo

        try:
            report = run_demo(args.url, writers=args.writers, ops=args.ops, rows=args.rows)
        except Exception as exc:  # one clear line, no traceback
            print(f"occ demo: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        print("\n".join(report.lines()))
        return 0 if report.ok else 1
    return 2  # pragma: no cover - argparse enforces the subcommand


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
