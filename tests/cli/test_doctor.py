"""``occ doctor`` through its real entry point, on every database the tests have."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pymongo
import sqlalchemy as sa

from tests.backends import MARIADB, Backend, SuiteDatabases
from tests.cli.run import assert_one_line_error, console_script, occ

SQL_CHECKS = {
    "server version",
    "isolation level",
    "matched rowcount",
    "UPDATE ... RETURNING",
    "timestamp precision",
}


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_doctor_passes_on_each_sql_backend_and_leaves_no_scratch_table(backend: Backend) -> None:
    before = tables(backend.url)
    out = occ("doctor", backend.url, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) >= SQL_CHECKS
    assert report["ok"] is True
    assert all(c["status"] != "fail" for c in checks.values())
    assert all(c["advice"] for c in checks.values() if c["status"] == "warn")
    assert checks["matched rowcount"]["status"] == "pass"
    if backend.name == "mariadb":
        assert "innodb_snapshot_isolation" in checks
        assert checks["UPDATE ... RETURNING"]["status"] == "warn"
    assert tables(backend.url) == before


def test_doctor_text_report_through_console_script(tmp_path: Path) -> None:
    import subprocess

    url = f"sqlite:///{tmp_path / 'doc.db'}"
    out = subprocess.run(
        [console_script(), "doctor", url], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "PASS  matched rowcount" in out.stdout
    assert "0 failed" in out.stdout


def test_doctor_on_mongodb_passes_and_explains_its_warnings(mongodb_uri: str) -> None:
    out = occ("doctor", mongodb_uri, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    expected = {
        "topology",
        "write concern",
        "read concern",
        "read preference",
        "retryable writes",
        "transactions",
        "conditional write",
    }
    assert expected <= set(checks)
    assert checks["conditional write"]["status"] == "pass"
    assert all(c["advice"] for c in checks.values() if c["status"] == "warn")
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(mongodb_uri)
    try:
        db = client.get_default_database(default="occ_doctor")
        assert not [n for n in db.list_collection_names() if n.startswith("occ_doctor_")]
    finally:
        client.close()


def test_doctor_refuses_w0_with_a_failed_check(mongodb_uri: str) -> None:
    sep = "&" if "?" in mongodb_uri else "?"
    out = occ("doctor", f"{mongodb_uri}{sep}w=0", "--json")
    assert out.returncode == 1
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["write concern"]["status"] == "fail"


def test_doctor_table_without_version_column_is_bad_input_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER)")
    before = path.read_bytes()
    out = occ("doctor", f"sqlite:///{path}", "--table", "account")
    assert_one_line_error(out, "occ doctor:", "table 'account' has no version column 'version'")
    assert path.read_bytes() == before


def test_doctor_checks_a_versioned_table(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
    out = occ("doctor", f"sqlite:///{path}", "--table", "account", "--json")
    assert out.returncode == 0, out.stderr
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["table account"]["status"] == "pass"


def test_doctor_bad_urls_are_one_line_and_nonzero(tmp_path: Path) -> None:
    assert_one_line_error(occ("doctor", "ftp://example.com/x"), "unsupported URL scheme 'ftp'")
    assert_one_line_error(
        occ("doctor", "postgresql+psycopg://postgres@127.0.0.1:1/occ_cli"), "cannot connect"
    )
    assert_one_line_error(
        occ("doctor", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"), "cannot connect"
    )
    missing = tmp_path / "no" / "such" / "dir.db"
    assert_one_line_error(occ("doctor", f"sqlite:///{missing}"), "cannot connect")
    assert not missing.parent.exists()


def test_rowcount_check_fails_when_a_creator_engine_drops_found_rows(
    private_databases: SuiteDatabases,
) -> None:
    """A ``creator=`` engine without CLIENT_FOUND_ROWS reports changed rows: doctor fails it."""
    import pymysql

    from occ._cli._doctor_sql import _rowcount, _scratch_table

    u = sa.make_url(private_databases.require(MARIADB).url)

    def connect() -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
        return pymysql.connect(
            host=u.host, port=u.port or 3306, user=u.username, database=u.database
        )

    engine = sa.create_engine("mysql+pymysql://", creator=connect)
    table = _scratch_table(engine)
    table.create(engine)
    try:
        check = _rowcount(engine, table)
    finally:
        table.drop(engine)
        engine.dispose()
    assert check.status == "fail"
    assert "CLIENT_FOUND_ROWS" in check.advice
