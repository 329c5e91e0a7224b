"""``occ doctor`` on a Galera node and on the standby: it sees the topology and explains it."""

from __future__ import annotations

import json
from typing import Any

from tests.backends import MARIADB, Backend, SuiteDatabases
from tests.cli.run import occ

GALERA_CHECKS = {
    "galera cluster",
    "wsrep_sync_wait",
    "wsrep_retry_autocommit",
    "certification failures",
}


def doctor(url: str) -> tuple[int, dict[str, Any]]:
    out = occ("doctor", url, "--json")
    return out.returncode, {c["name"]: c for c in json.loads(out.stdout)["checks"]}


def test_doctor_detects_galera_and_checks_what_optimistic_locking_needs(
    galera_nodes: list[Backend], private_databases: SuiteDatabases
) -> None:
    status, checks = doctor(galera_nodes[1].url)
    assert status == 0
    assert set(checks) >= GALERA_CHECKS
    assert checks["galera cluster"]["status"] == "pass"
    assert checks["galera cluster"]["found"].startswith("3 nodes, this one Synced")
    assert checks["wsrep_sync_wait"]["status"] == "warn"  # the server default, 0
    assert "replica=" in checks["wsrep_sync_wait"]["advice"]
    assert checks["wsrep_retry_autocommit"]["found"] == "1"
    assert "certification failures" in checks["certification failures"]["found"]
    # A lone MariaDB server has no Galera checks.
    _, alone = doctor(private_databases.require(MARIADB).url)
    assert not GALERA_CHECKS & set(alone)


def test_doctor_on_the_standby_fails_and_points_at_the_primary(
    standby_backends: tuple[Backend, Backend],
) -> None:
    status, checks = doctor(standby_backends[1].url)
    assert status == 1
    assert checks["replication role"]["status"] == "fail"
    assert "replica=" in checks["replication role"]["advice"]
    status, checks = doctor(standby_backends[0].url)
    assert status == 0
    assert checks["replication role"]["found"] == "a primary with 1 streaming standby(s)"
