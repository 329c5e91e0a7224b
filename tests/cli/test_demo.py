"""``occ demo`` through its real entry points: occ meets conflicts and loses nothing; the naive
writer, on the same workload, loses updates that the history checker catches.

The runs are contended for certain (but the README's, which runs the defaults): the
writers share one hot row and think 20 ms between their read and their write, so
they read the same version before any of them writes. Each test asserts that
contention (conflicts for occ, lost updates for the naive writer) rather than
trusting it, and stays small: 4 writers, 20 increments.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pymongo
import pytest

from tests.backends import Backend
from tests.cli.run import TIMEOUT, assert_one_line_error, console_script, occ, occ_json

WRITERS, OPS = 4, 5
INCREMENTS = WRITERS * OPS
CONTENDED = ["--writers", str(WRITERS), "--ops", str(OPS), "--rows", "1", "--think", "0.02"]


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'demo.sqlite3'}"


def assert_occ_met_conflicts_and_lost_nothing(report: dict[str, Any]) -> None:
    assert report["conflicts"] > 0, report
    assert (report["lost_updates"], report["checker_ok"], report["ok"]) == (0, True, True)
    assert report["anomalies"] == {}
    assert report["total"] == report["committed"]
    assert report["committed"] + report["discards"] + report["gave_up"] == INCREMENTS


def assert_naive_writer_lost_updates(naive: dict[str, Any]) -> None:
    assert naive["committed"] == naive["attempts"] == INCREMENTS
    assert naive["lost_updates"] == INCREMENTS - naive["total"] > 0, naive
    assert naive["checker_ok"] is False
    assert naive["anomalies"]["lost-update"] > 0
    assert naive["conflicts"] == naive["retries"] == naive["merges"] == 0


def stored_conflicts(url: str) -> list[dict[str, Any]]:
    """What ``occ conflicts list`` (the command the demo's note suggests) finds at ``url``."""
    found: list[dict[str, Any]] = occ_json("conflicts", "list", "--url", url, "--limit", "999")
    return found


def test_raise_retries_every_conflict_until_each_increment_commits(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    report = occ_json("demo", "--url", url, *CONTENDED, "--policy", "raise", "--no-naive")
    assert_occ_met_conflicts_and_lost_nothing(report)
    assert report["committed"] == INCREMENTS
    assert report["retries"] == report["conflicts"]
    assert report["attempts"] == INCREMENTS + report["retries"]
    assert report["merges"] == report["discards"] == report["alerts"] == 0
    assert report["naive"] is None


def test_merge_adds_each_conflicting_increment_to_theirs(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    report = occ_json("demo", "--url", url, *CONTENDED, "--policy", "merge", "--no-naive")
    assert_occ_met_conflicts_and_lost_nothing(report)
    assert report["committed"] == INCREMENTS
    assert report["merges"] == report["retries"] == report["conflicts"]
    assert report["discards"] == report["alerts"] == 0


def test_discard_drops_and_counts_each_conflicting_increment(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    report = occ_json("demo", "--url", url, *CONTENDED, "--policy", "discard", "--no-naive")
    assert_occ_met_conflicts_and_lost_nothing(report)
    assert report["discards"] == report["conflicts"]
    assert report["committed"] == INCREMENTS - report["discards"] < INCREMENTS
    assert report["retries"] == report["merges"] == report["alerts"] == 0


def test_alert_stores_each_conflict_for_review_then_discards_it(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    report = occ_json("demo", "--url", url, *CONTENDED, "--policy", "alert", "--no-naive")
    assert_occ_met_conflicts_and_lost_nothing(report)
    assert report["alerts"] == report["discards"] == report["conflicts"]
    assert report["committed"] == INCREMENTS - report["alerts"]
    assert report["notes"] == [
        f"review them: occ conflicts list --url {url}",
        f"or in a browser: occ conflicts serve --url {url} (then open http://127.0.0.1:8765/)",
    ]
    stored = stored_conflicts(url)
    assert len(stored) == report["alerts"]
    assert {(c["entity"], c["status"], c["decision"]) for c in stored} == {
        ("occ_demo_counter", "pending", "discarded")
    }


@pytest.mark.parametrize("mode", ["threads", "async"])
def test_naive_writer_loses_updates_occ_keeps_on_each_backend(backend: Backend, mode: str) -> None:
    flags = ["--async"] if mode == "async" else []
    report = occ_json("demo", "--url", backend.url, *CONTENDED, "--policy", "raise", *flags)
    assert (report["backend"], report["mode"]) == (
        "mysql" if backend.name == "mariadb" else backend.name,
        mode,
    )
    assert_occ_met_conflicts_and_lost_nothing(report)
    assert report["committed"] == INCREMENTS
    assert report["retries"] == report["conflicts"]
    assert_naive_writer_lost_updates(report["naive"])


def stored_mongo_alerts(uri: str) -> int:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
    try:
        store = client.get_default_database(default="occ_demo")["occ_conflicts"]
        return store.count_documents({"entity": "occ_demo_counter", "status": "pending"})
    finally:
        client.close()


@pytest.mark.parametrize("mode", ["threads", "async"])
def test_on_mongodb_alerts_are_stored_and_the_naive_writer_loses_updates(
    mongodb_uri: str, mode: str
) -> None:
    flags = ["--async"] if mode == "async" else []
    before = stored_mongo_alerts(mongodb_uri)
    report = occ_json("demo", "--mongo", mongodb_uri, *CONTENDED, "--policy", "alert", *flags)
    assert (report["backend"], report["mode"]) == ("mongodb", mode)
    assert_occ_met_conflicts_and_lost_nothing(report)
    assert report["alerts"] == report["discards"] == report["conflicts"]
    assert stored_mongo_alerts(mongodb_uri) - before == report["alerts"]
    assert_naive_writer_lost_updates(report["naive"])


def test_readme_command_runs_on_embedded_sqlite_and_ends_in_the_report(tmp_path: Path) -> None:
    out = subprocess.run(
        [console_script(), "demo"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    head, *table, committed, naive, verdict = out.stdout.splitlines()
    assert head.startswith(f"occ demo on sqlite:///{tmp_path}/occ-demo.sqlite3: 8 writers")
    assert table[0].split() == ["occ", "naive", "writer"]
    rows = ["writes sent", "conflicts", "retries", "merges", "discards", "alerts"]
    rows += ["increments committed", "sum of counters", "lost updates", "history check", "time"]
    for line, row in zip(table[1:], rows, strict=True):
        assert line.startswith(f"  {row}  "), (line, row)
    assert committed == "increments committed: 400 of 400"
    assert naive.startswith("naive writer: 400 acknowledged, ")
    assert verdict == "verdict: no update lost"


def on_a_terminal(*args: str) -> str:
    """``python -m occ ARGS`` with stdout and stderr on a pseudo-terminal; what it showed."""
    leader, follower = pty.openpty()
    shown = b""
    argv = [sys.executable, "-m", "occ", *args]
    with subprocess.Popen(argv, stdout=follower, stderr=follower) as proc:
        os.close(follower)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the command exited: its terminal is closed
                break
            if not chunk:
                break
            shown += chunk
        assert proc.wait(timeout=1) == 0, shown
    os.close(leader)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode())


def test_on_a_terminal_both_progress_bars_run_to_the_end_and_a_table_follows(
    tmp_path: Path,
) -> None:
    text = on_a_terminal("demo", "--url", sqlite_url(tmp_path), *CONTENDED)
    done = f"{INCREMENTS}/{INCREMENTS}"
    assert re.search(rf"occ \(merge\) +━+ {done}", text), text
    assert re.search(rf"naive writer +━+ {done}", text), text
    assert re.search(r"│ history check +│ +clean │ \d+ anomalies", text), text
    assert text.rstrip().endswith("verdict: no update lost")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--url", "nope://x"], "unsupported URL scheme 'nope'"),
        (["--url", "not a url"], "is not a database URL"),
        (["--url", "mysql+pymysql://root@127.0.0.1:1/occ_cli"], "cannot connect"),
        (["--mongo", "sqlite:///x.db"], "--mongo needs a mongodb:// URI"),
        (["--url", "sqlite://"], "in-memory SQLite database is private to one connection"),
    ],
)
def test_bad_url_is_one_line_and_nonzero(argv: list[str], fragment: str) -> None:
    assert_one_line_error(occ("demo", *argv), "occ demo:", fragment)


def test_bad_number_is_a_usage_error() -> None:
    out = occ("demo", "--writers", "0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "--writers: must be >= 1, got 0" in out.stderr
