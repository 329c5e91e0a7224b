"""Control the session standby's lag: hold back its replay, prove it holds, let it catch up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from scripts.pg_standby import load

#: long enough that nothing a test does outlasts it.
HELD = 120.0
PROBE = sa.table("occ_lag_probe", sa.column("id"), sa.column("n"))


class Standby:
    """The lag of the standby streaming from ``primary`` (both engines on one database)."""

    def __init__(self, directory: str, primary: sa.Engine, standby: sa.Engine) -> None:
        self.pair = load(directory)
        self.primary = primary
        self.replica = standby
        with primary.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS occ_lag_probe (id int PRIMARY KEY, n int NOT NULL)"
            )
            conn.exec_driver_sql(
                "INSERT INTO occ_lag_probe VALUES (1, 0) ON CONFLICT (id) DO NOTHING"
            )

    def _lsn(self, engine: sa.Engine, function: str) -> int:
        with engine.connect() as conn:
            text = conn.exec_driver_sql(f"SELECT {function}()::text").scalar_one()
        high, low = str(text).split("/")
        return (int(high, 16) << 32) + int(low, 16)

    def catch_up(self, timeout: float = 60) -> None:
        """Wait until the standby has applied everything the primary has written so far."""
        target = self._lsn(self.primary, "pg_current_wal_lsn")
        deadline = time.monotonic() + timeout
        while self._lsn(self.replica, "pg_last_wal_replay_lsn") < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standby did not catch up in {timeout} s")
            time.sleep(0.05)

    def _held(self) -> bool:
        """One probe commit on the primary: is the standby holding it back?"""
        with self.primary.begin() as conn:
            conn.execute(PROBE.update().where(PROBE.c.id == 1).values(n=PROBE.c.n + 1))
        target = self._lsn(self.primary, "pg_current_wal_lsn")
        deadline = time.monotonic() + 10
        while self._lsn(self.replica, "pg_last_wal_receive_lsn") < target:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        time.sleep(1.0)
        return self._lsn(self.replica, "pg_last_wal_replay_lsn") < target

    @contextmanager
    def lagging(self) -> Iterator[None]:
        """Within the block, the standby applies no commit (``recovery_min_apply_delay``)."""
        self.catch_up()
        self.pair.set_delay(HELD)
        try:
            for _ in range(10):
                if self._held():
                    break
            else:
                raise AssertionError("recovery_min_apply_delay did not take effect")
            yield
        finally:
            self.pair.set_delay(0)
            self.catch_up()
