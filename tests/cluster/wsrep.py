"""Read a Galera node's certification counters; configure the sessions of an engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

#: local certification failures, and local transactions aborted by a replicated one.
COUNTERS = ("wsrep_local_cert_failures", "wsrep_local_bf_aborts")


def counters(engines: Sequence[sa.Engine]) -> dict[str, int]:
    """The certification counters summed over the nodes ``engines`` reach."""
    totals = dict.fromkeys(COUNTERS, 0)
    for engine in engines:
        with engine.connect() as conn:
            for name, value in conn.exec_driver_sql(
                "SHOW GLOBAL STATUS WHERE Variable_name IN (%s, %s)", COUNTERS
            ):
                totals[name] += int(value)
    return totals


def since(before: dict[str, int], engines: Sequence[sa.Engine]) -> dict[str, int]:
    """How much each counter moved since ``before``."""
    now = counters(engines)
    return {name: now[name] - before[name] for name in COUNTERS}


def session_settings(engine: Any, **variables: int) -> None:
    """Set session ``variables`` (``wsrep_retry_autocommit=0``) on each new connection of
    ``engine`` (sync or async) and of the autocommit sibling occ makes from its pool."""
    sql = "SET SESSION " + ", ".join(f"{name} = {int(v)}" for name, v in variables.items())

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    pool = getattr(engine, "sync_engine", engine).pool
    sa.event.listen(pool, "connect", on_connect)
