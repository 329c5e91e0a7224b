"""Alembic's add_version_column and the SQL/MongoDB backfills, on tables with rows."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations

import occ
import occ.migrations.alembic
from occ.migrations import backfill_versions
from occ.sql import Repository

ROWS = 2500
meta = sa.MetaData()
legacy = sa.Table(
    "occ_t8_rows",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(30)),
)
nokey = sa.Table("occ_t8_nokey", meta, sa.Column("a", sa.Integer))
texty = sa.Table(
    "occ_t8_texty_rows",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.String(10)),
)


@pytest.fixture
def rows(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS occ_t8_rows"))
        conn.execute(sa.text("DROP TABLE IF EXISTS occ_t8_alembic"))
    meta.drop_all(engine)
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(legacy.insert(), [{"id": i, "name": f"n{i}"} for i in range(1, ROWS + 1)])
    return engine


def columns(engine: sa.Engine, table: str) -> list[str]:
    return [c["name"] for c in sa.inspect(engine).get_columns(table)]


def versions(engine: sa.Engine) -> dict[Any, int]:
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT version, COUNT(*) FROM occ_t8_rows GROUP BY version"))
        return {row[0]: row[1] for row in found}


def statements(engine: sa.Engine, verb: str) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(verb):
            seen.append(statement)

    return seen


def run_op(engine: sa.Engine, **kw: Any) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with ctx.begin_transaction():
            Operations(ctx).add_version_column("occ_t8_rows", **kw)  # type: ignore[attr-defined]
        if conn.in_transaction():
            conn.commit()


def test_add_version_column_backfills_in_batches_and_is_idempotent(rows: sa.Engine) -> None:
    alters = statements(rows, "ALTER")
    updates = statements(rows, "UPDATE")
    run_op(rows, batch_size=1000)
    assert "version" in columns(rows, "occ_t8_rows")
    assert versions(rows) == {1: ROWS}
    assert (len(alters), len(updates)) == (1, 3)
    run_op(rows, batch_size=1000)  # run twice: nothing added, nothing updated
    assert (len(alters), len(updates)) == (1, 3)
    assert versions(rows) == {1: ROWS}
    repo = Repository(rows, sa.Table("occ_t8_rows", sa.MetaData(), autoload_with=rows))
    assert repo.update(7, {"name": "x"}, expected_version=1).version == 2


def test_backfill_commits_each_batch_so_other_writers_proceed(rows: sa.Engine) -> None:
    run_op(rows, backfill=False)
    assert versions(rows) == {None: ROWS}
    other = sa.create_engine(rows.url, connect_args={"timeout": 1} if rows.name == "sqlite" else {})
    written: list[int] = []

    def between_batches(count: int) -> None:
        # Another writer versions a row the backfill has not reached yet; it must not wait.
        if len(written) == 3:
            written.append(count)
            return
        with other.begin() as conn:
            if rows.dialect.name == "mysql":
                conn.execute(sa.text("SET SESSION innodb_lock_wait_timeout = 1"))
            elif rows.dialect.name == "postgresql":
                conn.execute(sa.text("SET LOCAL lock_timeout = '1s'"))
            key = ROWS - len(written)
            conn.execute(sa.text("UPDATE occ_t8_rows SET version = 5 WHERE id = :k"), {"k": key})
        written.append(count)

    try:
        total = backfill_versions(rows, "occ_t8_rows", batch_size=700, on_batch=between_batches)
    finally:
        other.dispose()
    assert written == [700, 700, 700, 400 - 3]
    assert total == ROWS - 3
    assert versions(rows) == {1: ROWS - 3, 5: 3}  # versions set meanwhile are kept


def test_alembic_upgrade_downgrade_upgrade(rows: sa.Engine, tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(
        "from alembic import context\n"
        "connection = context.config.attributes['connection']\n"
        "context.configure(connection=connection, version_table='occ_t8_alembic')\n"
        "with context.begin_transaction():\n"
        "    context.run_migrations()\n"
    )
    (scripts / "script.py.mako").write_text("")
    (scripts / "versions" / "a1_version_rows.py").write_text(
        "from alembic import op\n"
        "import occ.migrations.alembic  # noqa: F401\n"
        "revision = 'a1'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n"
        "def upgrade():\n    op.add_version_column('occ_t8_rows', batch_size=1000)\n"
        "def downgrade():\n    op.drop_column('occ_t8_rows', 'version')\n"
    )
    config = Config()
    config.set_main_option("script_location", str(scripts))
    with rows.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
        assert versions(rows) == {1: ROWS}
        command.downgrade(config, "base")
        conn.commit()
        assert "version" not in columns(rows, "occ_t8_rows")
        command.upgrade(config, "head")
        conn.commit()
    assert versions(rows) == {1: ROWS}


def test_offline_mode_writes_one_update() -> None:
    buffer = io.StringIO()
    ctx = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buffer}
    )
    Operations(ctx).add_version_column("orders")  # type: ignore[attr-defined]
    sql = buffer.getvalue()
    assert "ALTER TABLE orders ADD COLUMN version INTEGER" in sql
    assert "UPDATE orders SET version=1 WHERE orders.version IS NULL" in sql


# -- bad input: a clear error, nothing changed ----------------------------------------


def test_version_type_that_cannot_version_is_refused(rows: sa.Engine) -> None:
    with pytest.raises(occ.ConfigurationError, match="cannot hold an integer version"):
        run_op(rows, type_=sa.String(10))
    assert "version" not in columns(rows, "occ_t8_rows")


def test_existing_version_column_of_another_type_is_refused(rows: sa.Engine) -> None:
    with rows.begin() as conn:
        conn.execute(texty.insert().values(id=1, version=None))
    with rows.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with pytest.raises(occ.ConfigurationError, match="cannot hold an integer version"):
            Operations(ctx).add_version_column("occ_t8_texty_rows")  # type: ignore[attr-defined]
    with pytest.raises(occ.ConfigurationError, match="an integer version needs an Integer"):
        backfill_versions(rows, "occ_t8_texty_rows")
    with rows.connect() as conn:
        assert conn.execute(sa.select(texty.c.version)).scalar_one() is None


def test_table_without_primary_key_is_refused(rows: sa.Engine) -> None:
    with rows.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with pytest.raises(occ.ConfigurationError, match="no primary key"):
            Operations(ctx).add_version_column("occ_t8_nokey")  # type: ignore[attr-defined]
    assert "version" not in columns(rows, "occ_t8_nokey")


def test_missing_table_and_bad_batch_size_are_refused(rows: sa.Engine) -> None:
    with pytest.raises(occ.ConfigurationError, match="no table"):
        backfill_versions(rows, "occ_t8_absent")
    with pytest.raises(occ.ValidationError, match="batch_size"):
        backfill_versions(rows, "occ_t8_rows", batch_size=0)
    with pytest.raises(occ.ValidationError, match="batch_size"):
        run_op(rows, batch_size="10")
    assert "version" not in columns(rows, "occ_t8_rows")
