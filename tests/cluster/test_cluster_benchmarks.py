"""``python -m benchmarks.clusters --smoke`` runs on the session's clusters and records both parts.

No timing is asserted; the run itself checks that the increments acknowledged
are the increments stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_cluster_benchmark_smoke_records_certification_failures_and_replica_reads(
    galera_servers: list[str], pg_pair: tuple[str, str, str], tmp_path: Path
) -> None:
    env = {**os.environ, "OCC_GALERA_URLS": " ".join(galera_servers), "OCC_PG_STANDBY": pg_pair[2]}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.clusters", "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    records = json.loads((tmp_path / "clusters.json").read_text())["records"]
    systems = {(r["workload"], r["backend"], r["system"]) for r in records}
    assert systems == {
        ("contention", "galera", "occ_spread"),
        ("contention", "galera", "occ_one_node"),
        ("read_modify_write", "pg_standby", "occ"),
        ("read_modify_write", "pg_standby", "occ_replica"),
    }
    assert all(r["ops"] > 0 for r in records)
    one_node = [r for r in records if r["system"] == "occ_one_node"]
    assert all(r["certification_failures"] == 0 for r in one_node)
    assert "| contention | galera |" in (tmp_path / "clusters.md").read_text()
