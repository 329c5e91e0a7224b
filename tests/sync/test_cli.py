"""``occ relay`` and ``occ sync status`` from a shell."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa

from occ.cli import main
from tests.sync.helpers import Service, stream_events
from tests.sync.models import profile, unique


def relay_command(url: str, table: str, broker: str, *extra: str) -> list[str]:
    head = [sys.executable, "-m", "occ.cli", "relay", url, "--table", table, "--broker", broker]
    return [*head, *extra]


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
    args = relay_command(url, svc.outbox.table, redis_url, "--stream", stream, "--partitions", "16")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
    events = stream_events(redis_url, stream.format(entity="profiles"))
    assert sorted(e.id for e in events) == sorted(r.event_id for r in _rows(engine, svc))
    engine.dispose()


def test_two_relays_on_their_own_streams_never_see_each_others_events(
    tmp_path: Any, redis_url: str
) -> None:
    """Two runs at once (two test sessions, two services) each publish to a stream of their
    own: neither reads, nor deletes, what the other published."""
    import redis

    runs = []
    for n in range(2):
        url = f"sqlite:///{tmp_path}/svc{n}.db"
        engine = sa.create_engine(url)
        svc = Service(engine, engine)
        for key in range(1, 4):
            svc.repo.insert(profile(key, name=f"run{n}"))
        stream = f"{unique('occtest')}:{{entity}}"
        args = relay_command(url, svc.outbox.table, redis_url, "--stream", stream, "--seconds", "2")
        runs.append((engine, svc, stream, subprocess.Popen(args, stdout=subprocess.PIPE)))
    client = redis.Redis.from_url(redis_url)
    try:
        for *_, proc in runs:
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0
            assert b"published 3 events" in out
        own = [{r.event_id for r in _rows(engine, svc)} for engine, svc, _, _ in runs]
        assert not own[0] & own[1]
        for (engine, _, stream, _), ids in zip(runs, own, strict=True):
            events = stream_events(redis_url, stream.format(entity="profiles"))
            assert {e.id for e in events} == ids  # this run's three events, nothing else
            assert len(events) == 3
            engine.dispose()
    finally:
        for _, _, stream, proc in runs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
            client.delete(stream.format(entity="profiles"))
        client.close()


def test_occ_relay_refuses_a_bad_stream_name_before_touching_anything(
    tmp_path: Any, redis_url: str, capsys: Any
) -> None:
    url = f"sqlite:///{tmp_path}/svc.db"
    assert main(["relay", url, "--broker", redis_url, "--stream", "occ:{table}"]) == 1
    assert "may hold {entity}" in capsys.readouterr().err
    assert main(["relay", url, "--broker", "nats://127.0.0.1:4222", "--stream", "x"]) == 2
    assert "--stream names a Redis stream" in capsys.readouterr().err
    assert not (tmp_path / "svc.db").exists()


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


def test_occ_relay_and_sync_status_on_a_mongodb_source(
    mongodb_uri: str, redis_url: str, stream: str, capsys: Any
) -> None:
    import pymongo

    import occ.mongo
    from occ.sync import Outbox

    client: Any = pymongo.MongoClient(mongodb_uri)
    db = client.get_default_database()
    name = unique("src")
    box = Outbox(table=unique("ob"), entity="profiles", mongo="document")
    repo = occ.mongo.Repository(db[name], outbox=box)
    for key in range(1, 4):
        repo.insert({"_id": key, "name": f"p{key}"})
    repo.delete(3, expected_version=1)
    status_args = ["sync", "status", mongodb_uri, "--table", box.table, "--collections", name]
    try:
        assert main([*status_args, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["pending"] == 4
        args = relay_command(mongodb_uri, box.table, redis_url, "--stream", stream)
        proc = subprocess.Popen(
            [*args, "--collections", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert main([*status_args, "--json"]) == 0
                if json.loads(capsys.readouterr().out)["pending"] == 0:
                    break
                assert time.monotonic() < deadline
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert b"published 4 events" in out
        events = stream_events(redis_url, stream.format(entity="profiles"))
        assert sorted((e.key, e.operation) for e in events) == [
            (1, "insert"),
            (2, "insert"),
            (3, "delete"),
            (3, "insert"),
        ]
        assert db[name].count_documents({}) == 2  # published: the tombstone is gone
        assert main([*status_args]) == 0
        assert "0 pending" in capsys.readouterr().out
        bad = mongodb_uri.rsplit("/", 1)[0] + "/"
        assert main(["sync", "status", bad]) == 2
        assert "names no database" in capsys.readouterr().err
    finally:
        for dropped in (name, box.table, f"{box.table}_leases"):
            db.drop_collection(dropped)
        client.close()
