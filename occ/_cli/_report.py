"""What ``occ demo`` runs and what it found: options, each side's counts, the verdict."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DemoOptions", "DemoReport", "Progress", "SideReport", "default_url"]

#: ``progress(label, total)`` starts a bar and returns what advances it by one.
Progress = Callable[[str, int], Callable[[], None]]


def default_url() -> str:
    """An embedded SQLite file under the system temp directory."""
    return "sqlite:///" + os.path.join(tempfile.gettempdir(), "occ-demo.sqlite3")


@dataclass(frozen=True)
class DemoOptions:
    """What to run: where, how many writers, which policy.

    Attributes:
        url: SQLAlchemy URL or ``mongodb://`` URI (``None``: embedded SQLite).
        writers: concurrent writers (threads, or tasks with ``use_async``).
        ops: increments per writer (the writers share ``writers * ops``).
        rows: hot keys the writers share.
        policy: ``raise``, ``merge``, ``discard`` or ``alert``.
        use_async: tasks on an event loop instead of threads.
        think: seconds a writer spends between its read and its write.
        naive: also run the naive writer.
        seconds: each side stops when this time runs out, done or not.
    """

    url: str | None = None
    writers: int = 8
    ops: int = 50
    rows: int = 3
    policy: str = "merge"
    use_async: bool = False
    think: float = 0.001
    naive: bool = True
    seconds: float = 300.0

    @property
    def increments(self) -> int:
        """How many increments each side is asked for."""
        return self.writers * self.ops


@dataclass(frozen=True)
class SideReport:
    """What one side (occ, or the naive writer) did, and the checker's verdict."""

    attempts: int = 0
    conflicts: int = 0
    retries: int = 0
    merges: int = 0
    discards: int = 0
    alerts: int = 0
    committed: int = 0
    gave_up: int = 0
    total: int = 0
    lost_updates: int = 0
    checker_ok: bool = False
    anomalies: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {**dataclasses.asdict(self), "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class DemoReport:
    """A demo run: where, options, occ's side, the naive writer's side, notes."""

    url: str
    backend: str
    options: DemoOptions
    occ: SideReport
    naive: SideReport | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when occ lost no update and its history checks clean."""
        return self.occ.checker_ok and self.occ.lost_updates == 0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``occ demo --json``)."""
        o = self.options
        return {
            "url": self.url,
            "backend": self.backend,
            "mode": "async" if o.use_async else "threads",
            "policy": o.policy,
            "writers": o.writers,
            "ops": o.ops,
            "rows": o.rows,
            "increments": o.increments,
            **self.occ.as_dict(),
            "ok": self.ok,
            "naive": None if self.naive is None else self.naive.as_dict(),
            "notes": list(self.notes),
        }
