"""The Alembic operation ``op.add_version_column``: add a version column, then backfill it.

Import this module once (in ``env.py`` or the migration script) to register it::

    import occ.migrations.alembic  # noqa: F401  registers op.add_version_column

    def upgrade() -> None:
        op.add_version_column("orders")

    def downgrade() -> None:
        op.drop_column("orders", "version")

The column is added nullable and without a default (instant on PostgreSQL,
MariaDB and SQLite), then rows get version 1 in batches, each committed on its
own (Alembic's ``autocommit_block``): the table is never locked for the whole
run (when Alembic runs the migration in its own transaction, as the default
``env.py`` does; if ``env.py`` wraps the run in a transaction of its own, the
batches run inside that one). Rows left NULL (inserted meanwhile by code
that knows nothing of versions) read as version 0 in `occ` and are still
protected. Running the operation again adds nothing and backfills only what is still NULL.
"""

from __future__ import annotations

from typing import Any

try:
    from alembic.operations import MigrateOperation, Operations
    from alembic.operations.ops import DropColumnOp
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "occ.migrations.alembic needs Alembic: pip install 'occ[migrations]'"
    ) from exc

import sqlalchemy as sa

from occ.errors import ConfigurationError
from occ.migrations._common import check_batch_size
from occ.migrations._sql import backfill_versions

__all__ = ["AddVersionColumnOp"]


@Operations.register_operation("add_version_column")
class AddVersionColumnOp(MigrateOperation):
    """Add an integer version column to an existing table and give its rows version 1.

    Args:
        table_name: the table.
        column_name: the version column (default ``version``).
        schema: the table's schema.
        type_: the column type; it must be an ``Integer`` type.
        batch_size: rows per backfill batch.
        backfill: set ``False`` to only add the column.
    """

    def __init__(
        self,
        table_name: str,
        column_name: str = "version",
        *,
        schema: str | None = None,
        type_: Any = None,
        batch_size: int = 1000,
        backfill: bool = True,
    ) -> None:
        type_ = sa.Integer() if type_ is None else type_
        if isinstance(type_, type):
            type_ = type_()
        if not isinstance(type_, sa.Integer):
            raise ConfigurationError(
                f"{table_name}.{column_name}: {type_!r} cannot hold an integer version; use "
                "an Integer type (BigInteger, SmallInteger, ...)"
            )
        self.table_name = table_name
        self.column_name = column_name
        self.schema = schema
        self.type_ = type_
        self.batch_size = check_batch_size(batch_size)
        self.backfill = backfill

    @classmethod
    def add_version_column(
        cls,
        operations: Operations,
        table_name: str,
        column_name: str = "version",
        **kw: Any,
    ) -> Any:
        """``op.add_version_column(table, column="version", batch_size=1000, ...)``."""
        return operations.invoke(cls(table_name, column_name, **kw))

    def reverse(self) -> DropColumnOp:
        """The downgrade: drop the column."""
        return DropColumnOp(self.table_name, self.column_name, schema=self.schema)


@Operations.implementation_for(AddVersionColumnOp)
def _add_version_column(operations: Operations, op: AddVersionColumnOp) -> None:
    column = sa.Column(op.column_name, op.type_, nullable=True)
    context = operations.get_context()
    if context.as_sql:  # offline (--sql): no batches, one statement
        operations.add_column(op.table_name, column, schema=op.schema)
        table = sa.table(op.table_name, sa.column(op.column_name), schema=op.schema)
        operations.execute(
            table.update()
            .where(table.c[op.column_name].is_(None))
            .values({op.column_name: sa.literal_column("1")})
        )
        return
    conn = operations.get_bind()
    inspector = sa.inspect(conn)
    if not inspector.has_table(op.table_name, schema=op.schema):
        raise ConfigurationError(f"there is no table {op.table_name!r} to version")
    if not inspector.get_pk_constraint(op.table_name, schema=op.schema)["constrained_columns"]:
        raise ConfigurationError(f"table {op.table_name} has no primary key: occ writes by key")
    columns = {c["name"]: c for c in inspector.get_columns(op.table_name, schema=op.schema)}
    existing = columns.get(op.column_name)
    if existing is None:
        operations.add_column(op.table_name, column, schema=op.schema)
    elif not isinstance(existing["type"], sa.Integer):
        raise ConfigurationError(
            f"{op.table_name}.{op.column_name} exists as {existing['type']!r}, which cannot "
            "hold an integer version"
        )
    if not op.backfill:
        return
    if getattr(context, "_in_external_transaction", False):
        # env.py runs the migrations in a transaction of its own: batches cannot commit.
        _backfill(operations.get_bind(), op)
        return
    if getattr(context, "_transaction", None) is None and conn.in_transaction():
        conn.commit()  # autobegun by the inspection above; autocommit_block would commit it too
    with context.autocommit_block():
        _backfill(operations.get_bind(), op)


def _backfill(conn: sa.Connection, op: AddVersionColumnOp) -> None:
    backfill_versions(
        conn, op.table_name, column=op.column_name, schema=op.schema, batch_size=op.batch_size
    )
