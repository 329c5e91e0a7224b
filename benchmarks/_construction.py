"""What a repository per request costs to build.

Workload ``construction``, on every SQL backend: ``occ`` builds an
``occ.sql.Repository`` of the benchmark's table on the engine (what a FastAPI
dependency does per request), ``orm_session`` opens and closes an ORM
``Session`` on the same engine (what every SQLAlchemy request already pays),
interleaved in rounds. No statement is sent: round trips are 0.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

import occ.sql
from benchmarks._backends import SQLBackend, item_table, make_engine, reset_rows
from benchmarks._timing import interleave, record, runner

__all__ = ["construction"]


def construction(backend: SQLBackend, settings: Any) -> list[dict[str, Any]]:
    """``occ`` repository construction against an ORM ``Session``'s, on ``backend``."""
    engine = make_engine(backend)
    reset_rows(engine, 1, 1, create=True)

    def repository(_: int) -> None:
        occ.sql.Repository(engine, item_table)

    def session(_: int) -> None:
        Session(engine).close()

    try:
        measured = interleave(
            {
                "occ": runner(repository, itertools.count()),
                "orm_session": runner(session, itertools.count()),
            },
            rounds=settings.rounds,
            seconds=settings.seconds,
            max_ops=settings.max_ops,
        )
        return [
            record(
                "construction",
                backend.name,
                name,
                writers=1,
                rows=0,
                measured=measured[name],
                round_trips=0.0,
            )
            for name in ("occ", "orm_session")
        ]
    finally:
        occ.sql.dispose(engine)
