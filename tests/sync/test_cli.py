"""``occ relay`` and ``occ sync status`` from a shell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa

from occ.cli import main
from tests.sync.helpers import Service, stream_events
from tests.sync.models import profile


def test_occ_relay_publishes_until_signalled_and_sync_status_shows_the_lag(
    tmp_path: Any, redis_url: str, stream: str, capsys: Any
) -> None:
    url = f"sqlite:///{tmp_path}/svc.db"
    engine = sa.create_engine(url)
    svc = Service(engine, engine)
    for key in range(1, 4):
        svc.repo.insert(profile(key))
    assert main(["sync", "status", url, "--table", svc.outbox.table, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pending"] == 3
    assert status["relays"] == []
    broker = redis_url  # streams named occ:<entity>: clean them up with this test's prefix
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "occ.cli",
            "relay",
            url,
            "--table",
            svc.outbox.table,
            "--broker",
            broker,
            "--partitions",
            "16",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert main(["sync", "status", url, "--table", svc.outbox.table, "--json"]) == 0
            status = json.loads(capsys.readouterr().out)
            if status["pending"] == 0:
                break
            assert time.monotonic() < deadline, proc.stderr
            time.sleep(0.1)
        assert len(status["relays"]) == 1  # the running relay holds the leases
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert b"published 3 events" in out
    events = stream_events(redis_url, "occ:profiles")
    assert {e.id for e in events} >= {e.event_id for e in _rows(engine, svc)}
    import redis

    redis.Redis.from_url(redis_url).delete("occ:profiles")
    engine.dispose()


def _rows(engine: sa.Engine, svc: Service) -> list[Any]:
    from tests.sync.models import outbox_rows

    return outbox_rows(engine, svc.outbox.table)


def test_occ_relay_with_an_unreachable_broker_is_one_clear_line(tmp_path: Any, capsys: Any) -> None:
    from tests.sync.brokers import free_port

    url = f"sqlite:///{tmp_path}/svc.db"
    port = free_port()
    assert main(["relay", url, "--broker", f"nats://127.0.0.1:{port}", "--seconds", "1"]) == 2
    assert "unreachable" in capsys.readouterr().err
    assert main(["relay", url, "--broker", "kafka://x:9092"]) == 2
    assert "unsupported broker" in capsys.readouterr().err
