"""``python -m examples.sync_live [--source URL] [--broker URL] [--seconds N] ...``."""

from __future__ import annotations

import argparse
import sys

from examples.sync_live.live import Options, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.sync_live", description=__doc__)
    parser.add_argument("--source", help="SQLAlchemy URL or mongodb:// URI (default: SQLite)")
    parser.add_argument("--broker", default=Options.broker, help="Redis URL (%(default)s)")
    parser.add_argument("--seconds", type=float, default=Options.seconds, help="writing time")
    parser.add_argument("--writers", type=int, default=Options.writers, help="writer threads")
    parser.add_argument("--keys", type=int, default=Options.keys, help="hot profiles")
    parser.add_argument(
        "--crash-every", type=int, default=Options.crash_every, help="relay crash period (batches)"
    )
    args = parser.parse_args(argv)
    opts = Options(
        source=args.source,
        broker=args.broker,
        seconds=args.seconds,
        writers=args.writers,
        keys=args.keys,
        crash_every=args.crash_every,
    )
    try:
        result = run(opts)
    except ConnectionError as exc:
        print(f"python -m examples.sync_live: {exc}", file=sys.stderr)
        return 2
    print(
        f"\n{result.writes} writes ({result.lost_races} lost a race and read again), "
        f"{result.published} events published ({result.crashes} relay crashes: their batches "
        "went out again)"
    )
    for name, counts in result.outcomes.items():
        discarded = counts["duplicate"] + counts["stale"]
        print(
            f"{name}: {counts['applied']} applied, {discarded} discarded "
            f"({counts['duplicate']} duplicate, {counts['stale']} stale)"
        )
    if result.converged:
        print("converged: every copy holds the source's values and versions; none went back")
        return 0
    print("NOT converged:\n  " + "\n  ".join(result.problems))
    return 1


if __name__ == "__main__":
    sys.exit(main())
