"""``python -m benchmarks --smoke`` runs every part for a few operations and writes valid records.

No timing is asserted: benchmarks are not tests. The databases follow the
suite's rules (tests/backends.py): a server that cannot be reached skips
locally and fails with ``CI`` set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from occ.testing import _sql_admin
from occ.testing.databases import DatabaseUnavailableError
from tests.backends import IN_CI, MARIADB, POSTGRESQL, SuiteDatabases

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300

FIELDS = {
    "workload": str,
    "backend": str,
    "system": str,
    "writers": int,
    "rows": int,
    "ops_per_s": (float, int, type(None)),
    "round_trips_per_op": (float, int, type(None)),
    "p50_ms": (float, int, type(None)),
    "p99_ms": (float, int, type(None)),
    "conflicts": int,
    "retries": int,
    "peak_rss_mb": (float, int, type(None)),
}
WORKLOADS = {
    *("blind_update", "read_modify_write", "contention", "soak", "bulk", "sync", "outbox"),
    *("construction", "transfer", "tokens"),
}
SYSTEMS = {
    *("occ", "dbapi", "core", "core_cached", "orm", "pessimistic", "pymongo", "beanie"),
    *("occ_loop", "orm_bulk", "occ_nolock", "occ_increment"),
    *("raw", "occ_outbox", "occ_outbox_changes", "orm_session", "occ_tokens"),
}
BACKENDS = {"sqlite", "sqlite_memory", "mariadb", "postgresql", "mongo"}
#: the line the benchmark logs when it starts on a SQL database: "<backend> on <url>".
DATABASE_LOG = re.compile(r"^(sqlite|mariadb|postgresql) on (\S+)$", re.M)


@pytest.fixture(scope="module")
def smoke(
    tmp_path_factory: pytest.TempPathFactory, private_databases: SuiteDatabases
) -> tuple[list[dict[str, object]], set[str]]:
    """Run the smoke benchmark once; its records and the backends that must be in them.

    The benchmark makes its own databases on the servers: where the suite can
    make one, so must it, whether or not any database exists there yet.
    """
    expected = {"sqlite", "sqlite_memory"}
    for server in (MARIADB, POSTGRESQL):
        made = private_databases.get(server)
        if not isinstance(made, DatabaseUnavailableError):
            expected.add(server.name)
        elif IN_CI:
            pytest.fail(f"{server.name}: {made} (CI=true)", pytrace=False)
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    used = dict(DATABASE_LOG.findall(proc.stderr))  # the URLs are logged without password
    assert expected - {"sqlite_memory"} <= set(used), proc.stderr
    servers = {b.name: b.url for b in (MARIADB, POSTGRESQL)}
    for name, url in used.items():  # each one was the run's own, and is gone
        database = sa.make_url(url).database or ""
        if name == "sqlite":
            assert not os.path.exists(database), url
        else:
            assert database.startswith("occ_bench_"), url
            assert database not in _sql_admin.list_names(servers[name]), f"{url} left behind"
    records = json.loads((out / "latest.json").read_text())
    for name in ("latest.md", "blind_update.png", "read_modify_write.png", "bulk.png"):
        assert (out / name).stat().st_size > 0, name
    if os.environ.get("OCC_MONGODB_URI") or IN_CI:
        expected.add("mongo")
    return records, expected


def test_smoke_records_have_the_documented_shape(
    smoke: tuple[list[dict[str, object]], set[str]],
) -> None:
    records, _ = smoke
    assert records
    for rec in records:
        for field, kind in FIELDS.items():
            assert isinstance(rec[field], kind), (field, rec)
        assert rec["workload"] in WORKLOADS
        assert rec["system"] in SYSTEMS
        assert rec["backend"] in BACKENDS


def test_smoke_covers_every_reachable_backend_and_workload(
    smoke: tuple[list[dict[str, object]], set[str]],
) -> None:
    records, expected = smoke
    seen = {r["backend"] for r in records}
    assert expected <= seen
    for backend in expected - {"mongo"}:
        for workload in ("blind_update", "read_modify_write"):
            systems = {
                r["system"] for r in records if (r["backend"], r["workload"]) == (backend, workload)
            }
            assert {"occ", "dbapi", "core", "core_cached", "orm"} <= systems, (backend, workload)
    assert {r["workload"] for r in records if r["backend"] == "sqlite_memory"} >= {"soak"}
    if {"mariadb", "postgresql"} & expected:
        assert any(r["workload"] == "contention" for r in records)
        transfers = {r["system"] for r in records if r["workload"] == "transfer"}
        assert transfers == {"occ", "pessimistic"}
    for backend in expected - {"mongo"}:
        built = {
            r["system"]
            for r in records
            if (r["backend"], r["workload"]) == (backend, "construction")
        }
        assert built == {"occ", "orm_session"}, backend
        tokens = {
            r["system"] for r in records if (r["backend"], r["workload"]) == (backend, "tokens")
        }
        assert tokens == {"occ", "occ_tokens"}, backend


def test_bulk_records_every_system_at_every_batch_size(
    smoke: tuple[list[dict[str, object]], set[str]],
) -> None:
    records, expected = smoke
    for backend in expected:
        cells = {
            (r["rows"], r["system"]): r
            for r in records
            if (r["backend"], r["workload"]) == (backend, "bulk")
        }
        systems = {"occ", "occ_loop", "pymongo"} if backend == "mongo" else set(BULK_SQL)
        assert set(cells) == {(n, s) for n in (10, 100) for s in systems}, backend
        # a batch of occ's update_many is a constant number of round trips, whatever N
        assert (
            cells[(10, "occ")]["round_trips_per_batch"]
            == cells[(100, "occ")]["round_trips_per_batch"]
        )
        assert cells[(100, "occ_loop")]["round_trips_per_batch"] >= 100


BULK_SQL = ("occ", "occ_loop", "dbapi", "orm_bulk")


def test_round_trips_are_counted_for_occ(
    smoke: tuple[list[dict[str, object]], set[str]],
) -> None:
    records, _ = smoke
    for rec in records:
        if rec["system"] == "occ" and rec["workload"] in ("blind_update", "read_modify_write"):
            assert rec["round_trips_per_op"] == (1 if rec["workload"] == "blind_update" else 2), rec


def test_smoke_moves_events_through_every_broker_and_measures_the_outbox(
    smoke: tuple[list[dict[str, object]], set[str]],
) -> None:
    from tests.sync.brokers import AMQP_URL, NATS_URL, REDIS_URL, reachable

    records, expected = smoke
    urls = {"redis": (REDIS_URL, 6379), "rabbitmq": (AMQP_URL, 5672), "nats": (NATS_URL, 4222)}
    for broker, (url, port) in urls.items():
        if not reachable(url, port):
            assert not IN_CI, f"{broker} is not reachable (CI=true)"
            continue
        mine = [r for r in records if r["workload"] == "sync" and r.get("broker") == broker]
        assert {r["system"] for r in mine} == {"occ", "raw"}, broker
        for rec in mine:
            assert rec["ops_per_s"]
            assert rec["p50_ms"] is not None
            assert rec["p99_ms"] is not None
            assert rec["rows"] == rec["ops"] > 0  # every event went through
    for backend in expected - {"mongo"}:
        systems = {
            r["system"]: r["round_trips_per_op"]
            for r in records
            if (r["workload"], r["backend"]) == ("outbox", backend)
        }
        assert set(systems) == {"occ", "occ_outbox", "occ_outbox_changes"}, backend
        assert systems["occ"] == 1  # the blind update without an outbox
        assert systems["occ_outbox_changes"] >= 1
    pg = {
        r["system"]: r for r in records if (r["workload"], r["backend"]) == ("outbox", "postgresql")
    }
    if pg:
        assert (
            pg["occ_outbox_changes"]["round_trips_per_op"] == 1
        )  # the write and its event: one CTE
