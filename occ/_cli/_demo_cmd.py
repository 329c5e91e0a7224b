"""``occ demo``: parse nothing, run the demo with a progress bar, print the report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from occ._cli._common import CliError

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
    from occ._cli._policies import POLICIES

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
    demo.add_argument("--ops", type=_positive, default=50, help="increments per writer (50)")
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


def _progress_bar(console: Any) -> tuple[Any, Callable[[str, int], Callable[[int], None]]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )

    def tick(name: str, total: int) -> Callable[[int], None]:
        task = bar.add_task(name, total=total)
        return lambda done: bar.update(task, completed=done)

    return bar, tick


def run(args: argparse.Namespace) -> int:
    """Run ``occ demo``; 0 when occ lost nothing, 1 otherwise."""
    try:
        from occ._demo import DemoOptions, run_demo
    except ImportError as exc:  # occ.testing (the history checker) needs Hypothesis
        raise CliError(
            f"occ demo needs the history checker of occ.testing ({exc.name} is missing): "
            "pip install 'occ[testing,cli]'"
        ) from exc
    url = args.mongo or args.url
    if args.mongo is not None and not args.mongo.startswith(("mongodb://", "mongodb+srv://")):
        raise CliError(f"--mongo needs a mongodb:// URI, got {args.mongo!r}")
    opts = DemoOptions(
        url=url,
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
    show_bar = Console is not None and not args.json and not args.no_progress
    if show_bar and sys.stderr.isatty():
        bar, tick = _progress_bar(Console(stderr=True))
        with bar:
            report = run_demo(opts, tick)
    else:
        report = run_demo(opts)
    if args.json:
        from occ._cli._render import render_json

        print(render_json(report))
    elif Console is not None and sys.stdout.isatty():
        from occ._cli._render import render_table

        render_table(report, Console())
    else:
        from occ._cli._render import plain_lines

        print("\n".join(plain_lines(report)))
    return 0 if report.ok else 1
