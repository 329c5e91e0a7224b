"""``occ demo``: concurrent writers on hot rows, and proof that none of their updates was lost."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoReport:
    """What a demo run did and what the final check found."""

    url: str
    writers: int
    ops: int
    rows: int
    seconds: float = 0.0
    attempts: int = 0
    conflicts: int = 0
    retries: int = 0
    totals: dict[int, int] = field(default_factory=dict)
    expected: dict[int, int] = field(default_factory=dict)
    versions_ok: bool = False

    @property
    def ok(self) -> bool:
        """True when every increment is in the totals and every version chain is gapless."""
        return self.totals == self.expected and self.versions_ok

    def lines(self) -> list[str]:
        total = self.writers * self.ops
        rows = ", ".join(
            f"row {k}: {self.totals.get(k)} (expected {self.expected[k]})" for k in self.expected
        )
        return [
            f"occ demo on {self.url}",
            f"  {self.writers} writers x {self.ops} increments over {self.rows} hot rows "
            f"in {self.seconds:.2f}s",
            f"  attempts: {self.attempts}   conflicts: {self.conflicts}   retries: {self.retries}",
            f"  totals: {rows}",
            f"  increments committed: {sum(self.totals.values())} of {total}; version chains "
            + ("gapless" if self.versions_ok else "BROKEN"),
            "  verdict: " + ("no update lost" if self.ok else "UPDATES LOST"),
        ]


def default_url() -> str:
    """An embedded SQLite file under the system temp directory."""
    return "sqlite:///" + os.path.join(tempfile.gettempdir(), "occ-demo.sqlite3")


def run_demo(
    url: str | None = None, *, writers: int = 8, ops: int = 50, rows: int = 3
) -> DemoReport:
    """Run ``writers`` threads each doing ``ops`` ``modify`` increments over ``rows`` rows."""
    import sqlalchemy as sa

    import occ.sql
    from occ import RetryPolicy

    url = url or default_url()
    engine = sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    table = sa.Table(
        "occ_demo_counter",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer),
    )
    table.drop(engine, checkfirst=True)
    table.create(engine)
    repo: occ.sql.Repository[dict[str, Any]] = occ.sql.Repository(
        engine, table, retry=RetryPolicy(attempts=500, max_delay=0.02)
    )
    for key in range(1, rows + 1):
        repo.insert({"id": key, "hits": 0})
    report = DemoReport(url=url, writers=writers, ops=ops, rows=rows)
    versions: dict[int, list[int]] = {k: [] for k in range(1, rows + 1)}
    lock = threading.Lock()
    failures: list[BaseException] = []

    def bump(value: dict[str, Any]) -> dict[str, Any]:
        value["hits"] += 1
        return value

    def writer(n: int) -> None:
        try:
            for i in range(ops):
                key = (n + i) % rows + 1
                result = repo.modify(key, bump)
                with lock:
                    versions[key].append(result.version)  # type: ignore[arg-type]
        except BaseException as exc:  # reported after the run
            failures.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    report.seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    stats = repo.stats.snapshot()
    report.conflicts = stats["conflicts"]
    report.retries = stats["retries"]
    report.attempts = writers * ops + report.retries
    for key in versions:
        stored = repo.get(key)
        report.totals[key] = stored.value["hits"]
        report.expected[key] = len(versions[key])
    report.versions_ok = all(
        sorted(chain) == list(range(2, len(chain) + 2)) for chain in versions.values()
    )
    occ.sql.dispose(engine)
    return report
