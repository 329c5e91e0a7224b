"""``python -m benchmarks --smoke`` runs every part for a few operations and writes valid records.

No timing is asserted: benchmarks are not tests. The databases follow the
suite's rules (tests/backends.py): a server that cannot be reached skips
locally and fails with ``CI`` set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from occ.testing.databases import unreachable
from tests.backends import IN_CI

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
WORKLOADS = {"blind_update", "read_modify_write", "contention", "soak"}
SYSTEMS = {"occ", "dbapi", "core", "core_cached", "orm", "pessimistic", "pymongo", "beanie"}
BACKENDS = {"sqlite", "sqlite_memory", "mariadb", "postgresql", "mongo"}


def _server_backends() -> dict[str, str]:
    """The benchmark's own URLs for the server databases (it uses ``occ_bench``)."""
    from benchmarks._backends import sql_backends

    return {b.name: b.url for b in sql_backends() if not b.name.startswith("sqlite")}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, object]], set[str]]:
    """Run the smoke benchmark once; its records and the backends that must be in them."""
    expected = {"sqlite", "sqlite_memory"}
    for name, url in _server_backends().items():
        why = unreachable(url)
        if why is None:
            expected.add(name)
        elif IN_CI:
            pytest.fail(f"{name} at {url} is unreachable: {why} (CI=true)", pytrace=False)
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        # A table of its own: never the one a full run (or another smoke run) is using.
        env={**os.environ, "PYTHONPATH": str(ROOT), "OCC_BENCH_TABLE": f"occ_smoke_{os.getpid()}"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    records = json.loads((out / "latest.json").read_text())
    for name in ("latest.md", "blind_update.png", "read_modify_write.png"):
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


def test_round_trips_are_counted_for_occ(
    smoke: tuple[list[dict[str, object]], set[str]],
) -> None:
    records, _ = smoke
    for rec in records:
        if rec["system"] == "occ" and rec["workload"] in ("blind_update", "read_modify_write"):
            assert rec["round_trips_per_op"] == (1 if rec["workload"] == "blind_update" else 2), rec
