"""``occ demo``: parse its options, run it with a progress bar, print the report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from occ._cli._common import CliError
from occ._cli._policies import POLICIES
from occ._cli._render import plain_lines, render_json, render_table
from occ._cli._report import DemoOptions, Progress

__all__ = ["add_parser", "run"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be between 0 and 10 seconds, got {value}")
    return value


def add_parser(sub: Any) -> None:
    """Add ``occ demo`` to the subcommands."""
    demo = sub.add_parser(
        "demo",
        help="concurrent writers on hot rows: occ vs a naive writer",
        description="N writers increment hot counters through occ, then a naive writer "
        "(read, change in Python, unconditional write) does the same; the history "
        "checker judges both.",
    )
    where = demo.add_mutually_exclusive_group()
    where.add_argument("--url", help="SQLAlchemy URL or mongodb:// URI (default: embedded SQLite)")
    where.add_argument("--mongo", metavar="URI", help="a MongoDB URI (same as --url mongodb://...)")
    demo.add_argument("--writers", type=_positive, default=8, help="concurrent writers (8)")
    demo.add_argument(
        "--ops", type=_positive, default=50, help="increments per writer, pooled (50)"
    )
    demo.add_argument("--rows", type=_positive, default=3, help="hot rows shared by writers (3)")
    demo.add_argument(
        "--policy",
        choices=sorted(POLICIES),
        default="merge",
        help="what occ does with a conflict: "
        + "; ".join(f"{k}: {v}" for k, v in POLICIES.items())
        + " (default: merge)",
    )
    demo.add_argument("--async", dest="use_async", action="store_true", help="tasks, not threads")
    demo.add_argument(
        "--think",
        type=_seconds,
        default=0.001,
        help="seconds each writer spends between its read and its write (0.001)",
    )
    demo.add_argument("--no-naive", action="store_true", help="skip the naive writer")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")


def _progress_bar(console: Any) -> tuple[Any, Progress]:
    from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
    from rich.progress import Progress as Bars

    bars = Bars(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )

    def start(label: str, total: int) -> Callable[[], None]:
        return partial(bars.advance, bars.add_task(label, total=total))

    return bars, start


def run(args: argparse.Namespace) -> int:
    """Run ``occ demo``; 0 when occ lost nothing, 1 otherwise."""
    try:  # here, not on top: ``occ doctor`` and ``occ conflicts`` need no Hypothesis
        from occ._cli._demo import run_demo
    except ImportError as exc:
        raise CliError(
            f"occ demo needs the history checker of occ.testing ({exc.name} is missing): "
            "pip install 'occ[testing,cli]'"
        ) from exc
    if args.mongo is not None and not args.mongo.startswith(("mongodb://", "mongodb+srv://")):
        raise CliError(f"--mongo needs a mongodb:// URI, got {args.mongo!r}")
    opts = DemoOptions(
        url=args.mongo or args.url,
        writers=args.writers,
        ops=args.ops,
        rows=args.rows,
        policy=args.policy,
        use_async=args.use_async,
        think=args.think,
        naive=not args.no_naive,
    )
    try:
        from rich.console import Console
    except ImportError:  # the cli extra is not installed: plain text, no bar
        Console = None  # type: ignore[assignment,misc]
    if Console is not None and not (args.json or args.no_progress) and sys.stderr.isatty():
        bars, start = _progress_bar(Console(stderr=True))
        with bars:
            report = run_demo(opts, start)
    else:
        report = run_demo(opts)
    if args.json:
        print(render_json(report))
    elif Console is not None and sys.stdout.isatty():
        render_table(report, Console())
    else:
        print("\n".join(plain_lines(report)))
    return 0 if report.ok else 1
