"""``occ conflicts``: prefixes, bulk resolve, purge, upgrade, and ``serve``'s safety rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import occ.sql
from tests.cli.run import assert_one_line_error
from tests.cli.run import occ as run_occ
from tests.conflicts.reviewapp import App, make_app
from tests.conflicts.servers import free_port

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[App, str]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    built = make_app(url)
    for key in (1, 2, 3):
        built.accounts.insert({"id": key, "owner": "ada", "balance": 100})
    yield built, url
    occ.sql.dispose(built.engine)


def listed(url: str, *more: str) -> list[dict[str, Any]]:
    out = run_occ("conflicts", "list", "--url", url, "--json", *more)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def test_show_and_resolve_take_a_unique_prefix(app: tuple[App, str]) -> None:
    built, url = app
    cid = built.stale_write(1)
    shown = run_occ("conflicts", "show", cid[:5], "--url", url, "--json")
    assert json.loads(shown.stdout)["id"] == cid
    out = run_occ("conflicts", "resolve", cid[:5], "--url", url, "--take", "dismiss")
    assert out.returncode == 0, out.stderr
    assert built.store.get(cid).resolution == "dismissed"


def test_an_ambiguous_prefix_is_refused(app: tuple[App, str]) -> None:
    built, url = app
    ids = [built.stale_write(k) for k in (1, 2, 3)]
    with built.engine.begin() as conn:  # make two ids share a prefix
        conn.execute(
            sa.text("UPDATE occ_conflicts SET id = 'abc' || substr(id, 4) WHERE id != :i"),
            {"i": ids[0]},
        )
    out = run_occ("conflicts", "resolve", "abc", "--url", url, "--take", "mine")
    assert_one_line_error(out, "'abc' is the start of several conflict ids")
    assert all(r["status"] == "pending" for r in listed(url))


def test_bulk_resolve_by_filter_asks_then_settles_each(app: tuple[App, str]) -> None:
    built, url = app
    for key in (1, 2, 3):
        built.stale_write(key)
    built.accounts.update(3, {"balance": 0}, expected_version=2)  # this one moved on
    declined = run_occ(
        "conflicts", "resolve", "--all", "--url", url, "--take", "mine", "--entity", "account"
    )
    assert declined.returncode == 1  # no standard input: not confirmed
    assert all(r["status"] == "pending" for r in listed(url))
    out = run_occ("conflicts", "resolve", "--all", "--url", url, "--take", "mine", "--yes")
    assert out.returncode == 1  # one was left open
    assert "2 settled, 1 left open" in out.stdout
    assert [r["status"] for r in listed(url, "--status", "open")] == ["pending"]
    assert [built.row(k).value["owner"] for k in (1, 2, 3)] == ["ada l.", "ada l.", "ada"]


def test_purge_deletes_resolved_conflicts_older_than_the_age(app: tuple[App, str]) -> None:
    built, url = app
    settled, pending = built.stale_write(1), built.stale_write(2)
    run_occ("conflicts", "resolve", settled, "--url", url, "--take", "theirs")
    assert (
        "no resolved conflict"
        in run_occ("conflicts", "purge", "--url", url, "--older-than", "1d", "--yes").stdout
    )
    assert_one_line_error(
        run_occ("conflicts", "purge", "--url", url, "--older-than", "soon"), "an age is"
    )
    out = run_occ("conflicts", "purge", "--url", url, "--older-than", "0s", "--yes")
    assert "deleted 1" in out.stdout
    assert [r["id"] for r in listed(url)] == [pending]


def test_an_old_store_is_told_to_upgrade_then_upgraded(app: tuple[App, str]) -> None:
    built, url = app
    built.stale_write(1)
    with built.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE occ_conflicts DROP COLUMN resolved_by"))
    assert_one_line_error(run_occ("conflicts", "list", "--url", url), "occ conflicts upgrade")
    assert run_occ("conflicts", "upgrade", "--url", url).returncode == 0
    assert len(listed(url)) == 1


def test_serve_refuses_to_run_open_off_loopback(app: tuple[App, str]) -> None:
    _, url = app
    out = run_occ(
        "conflicts", "serve", "--url", url, "--host", "0.0.0.0", env={"OCC_REVIEW_TOKEN": ""}
    )
    assert_one_line_error(out, "without a token")
    short = run_occ("conflicts", "serve", "--url", url, "--token", "abc")
    assert_one_line_error(short, "at least 16 characters")


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=5
        ) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _serving(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OCC_REVIEW_TOKEN": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "occ", "conflicts", "serve", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            urllib.request.urlopen(base, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not start")


@pytest.mark.parametrize("token", [None, "s3cret-token-0123456789"])
def test_serve_needs_the_token_or_a_local_client(app: tuple[App, str], token: str | None) -> None:
    built, url = app
    cid = built.stale_write(1)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    proc = _serving("--url", url, "--port", str(port), *(["--token", token] if token else []))
    try:
        _wait(base, proc)
        if token is None:
            assert _get(base) == 200
            assert _get(f"{base}c/{cid}") == 200
        else:
            assert _get(base) == 401
            assert _get(base, {"Authorization": "Bearer wrong-token-0123456789"}) == 401
            assert _get(f"{base}c/{cid}", {"Authorization": f"Bearer {token}"}) == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    if token is None:
        assert "warning: no token" in err
    else:
        assert "warning" not in err
