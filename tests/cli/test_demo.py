"""``occ demo`` through its real entry point: occ loses nothing, the naive writer does.

(``tests/test_cli_demo.py`` runs the console script on every SQL backend.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends import Backend
from tests.cli.run import assert_one_line_error, occ, occ_json

SMALL = ["--writers", "4", "--ops", "10"]


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'demo.sqlite3'}"


@pytest.mark.parametrize("policy", ["raise", "merge", "discard", "alert"])
def test_demo_policy_loses_no_update_and_checks_clean(tmp_path: Path, policy: str) -> None:
    url = sqlite_url(tmp_path)
    report = occ_json("demo", "--url", url, *SMALL, "--policy", policy, "--no-naive")
    assert report["policy"] == policy
    assert report["lost_updates"] == 0
    assert report["checker_ok"] is True
    assert report["ok"] is True
    assert report["committed"] + report["discards"] + report["gave_up"] == 40
    assert report["total"] == report["committed"]
    if policy in ("raise", "merge"):
        assert report["committed"] == 40
    if policy == "merge":
        assert report["merges"] == report["retries"]
    if policy == "alert":
        assert report["alerts"] == report["discards"] == report["conflicts"]


def test_naive_writer_beside_occ_loses_updates_the_checker_catches(tmp_path: Path) -> None:
    report = occ_json("demo", "--url", sqlite_url(tmp_path), *SMALL, "--think", "0.005")
    naive = report["naive"]
    assert naive["committed"] == 40
    assert naive["lost_updates"] == 40 - naive["total"] > 0
    assert naive["checker_ok"] is False
    assert naive["anomalies"]["lost-update"] > 0
    assert report["lost_updates"] == 0


def test_demo_text_report_shows_both_sides_and_verdict(tmp_path: Path) -> None:
    out = occ("demo", "--url", sqlite_url(tmp_path), *SMALL)
    assert out.returncode == 0, out.stderr
    for row in ("writes sent", "conflicts", "retries", "merges", "discards", "alerts"):
        assert row in out.stdout
    assert "history check" in out.stdout
    assert "naive writer" in out.stdout
    assert "increments committed: 40 of 40" in out.stdout
    assert "verdict: no update lost" in out.stdout


def test_demo_async_on_each_backend(backend: Backend) -> None:
    argv = ["--url", backend.url, "--async", "--writers", "3", "--ops", "10", "--no-naive"]
    report = occ_json("demo", *argv, "--policy", "raise")
    assert (report["mode"], report["lost_updates"], report["checker_ok"]) == ("async", 0, True)
    assert report["committed"] == 30
    assert report["naive"] is None


@pytest.mark.parametrize("use_async", [False, True], ids=["threads", "async"])
def test_demo_on_mongodb(mongodb_uri: str, use_async: bool) -> None:
    flags = ["--async"] if use_async else []
    report = occ_json("demo", "--mongo", mongodb_uri, *SMALL, "--policy", "merge", *flags)
    assert report["backend"] == "mongodb"
    assert (report["lost_updates"], report["checker_ok"], report["committed"]) == (0, True, 40)


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
def test_demo_bad_url_is_one_line_and_nonzero(
    tmp_path: Path, argv: list[str], fragment: str
) -> None:
    out = occ("demo", *argv, *SMALL)
    assert_one_line_error(out, "occ demo:", fragment)


def test_demo_bad_number_is_a_usage_error() -> None:
    out = occ("demo", "--writers", "0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "--writers: must be >= 1, got 0" in out.stderr
