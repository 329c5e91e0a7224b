"""The ``occ`` command: ``demo``, ``doctor``, ``conflicts``, ``relay`` and ``sync``.

Every failure a user can cause (an unreachable URL, a wrong scheme, a table
without a version column, an unknown conflict id) ends in one line on
stderr and a non-zero exit status, never a traceback:

- 0: done (doctor: no check failed; demo: no update lost);
- 1: the command ran and found a problem (a failed check, lost updates, a conflict);
- 2: bad input or an unusable database (nothing was written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``occ`` command."""
    from occ._cli import _conflicts_cmd, _demo_cmd, _doctor_cmd, _sync_cmd

    parser = argparse.ArgumentParser(
        prog="occ", description="Optimistic concurrency toolkit: see it, check it, review it."
    )
    from occ import __version__

    parser.add_argument("--version", action="version", version=f"occ {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _demo_cmd.add_parser(sub)
    _doctor_cmd.add_parser(sub)
    _conflicts_cmd.add_parser(sub)
    _sync_cmd.add_parsers(sub)
    return parser


def _runner(command: str) -> Callable[[argparse.Namespace], int]:
    from occ._cli import _conflicts_cmd, _demo_cmd, _doctor_cmd, _sync_cmd

    runners: dict[str, Callable[[argparse.Namespace], int]] = {
        "demo": _demo_cmd.run,
        "doctor": _doctor_cmd.run,
        "conflicts": _conflicts_cmd.run,
        "relay": _sync_cmd.run_relay,
        "sync": _sync_cmd.run_status,
    }
    return runners[command]


def _missing(command: str, exc: BaseException) -> str | None:
    """One line for an optional module that is not installed, naming every extra needed."""
    from occ._cli._common import install_hint, missing_module

    module = missing_module(exc)
    if module is None:
        return None
    needs = f"occ {command}" if command else "occ"
    return f"{module} is not installed; {needs} needs: {install_hint(command, module)}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``occ`` console script; returns the exit status."""
    from occ._cli._common import CliError, first_line
    from occ.errors import OCCError

    try:
        args = build_parser().parse_args(argv)
    except ImportError as exc:  # a command's module needs an extra that is not installed
        print(f"occ: {_missing('', exc) or first_line(exc)}", file=sys.stderr)
        return 2
    name = f"occ {args.command}"
    try:
        return _runner(args.command)(args)
    except CliError as exc:
        print(f"{name}: {_missing(args.command, exc) or exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"{name}: {_missing(args.command, exc) or first_line(exc)}", file=sys.stderr)
        return 2
    except OCCError as exc:
        print(f"{name}: {first_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, no traceback
        print(f"{name}: {first_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
