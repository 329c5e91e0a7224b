"""Backfill a version column of an existing SQL table, in batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import sqlalchemy as sa
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("occ.migrations needs SQLAlchemy: pip install 'occ[sql]'") from exc

from occ.errors import ConfigurationError
from occ.migrations._common import check_batch_size

__all__ = ["backfill_versions", "reflect_versioned_table"]


def reflect_versioned_table(
    conn: sa.Connection, table: str | sa.Table, column: str, schema: str | None
) -> sa.Table:
    """The table, with a primary key and an integer ``column``, or a ConfigurationError."""
    if isinstance(table, str):
        table = sa.Table(table, sa.MetaData(), autoload_with=conn, schema=schema)
    if not table.primary_key.columns:
        raise ConfigurationError(
            f"table {table.name} has no primary key: occ writes by key, and batches walk the key"
        )
    if column not in table.c:
        raise ConfigurationError(f"table {table.name} has no column {column!r} to backfill")
    if not isinstance(table.c[column].type, sa.Integer):
        raise ConfigurationError(
            f"{table.name}.{column} is {table.c[column].type!r}; an integer version needs an "
            "Integer column"
        )
    return table


def backfill_versions(
    bind: sa.Engine | sa.Connection,
    table: str | sa.Table,
    *,
    column: str = "version",
    schema: str | None = None,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Give every row whose version is NULL the first version (1), a batch at a time.

    Batches walk the primary key (keyset pagination): each one updates at most
    ``batch_size`` rows with one ``UPDATE ... WHERE version IS NULL AND key in
    (last, upper]`` and is committed on its own, so rows are locked only for
    the length of one batch, never the table for the whole run. Rows that
    already have a version are never touched: running it again does nothing,
    and an interrupted run resumes where it stopped.

    Args:
        bind: an ``Engine`` (one transaction per batch) or a ``Connection``; a
            connection in autocommit mode commits each batch; otherwise each
            batch is committed unless the caller had a transaction open already.
        table: a table name (reflected) or a ``Table``.
        column: the version column, an ``Integer``.
        schema: schema of a table given by name.
        batch_size: rows per batch.
        on_batch: called with the number of rows of each batch (progress).

    Returns:
        How many rows got a version.

    Raises:
        ConfigurationError: no such table or column, no primary key, or a
            column that is not an integer; nothing is written.
        ValidationError: a bad ``batch_size``.
    """
    batch_size = check_batch_size(batch_size)
    if isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            return _backfill(conn, table, column, schema, batch_size, on_batch, owns=True)
    return _backfill(
        bind, table, column, schema, batch_size, on_batch, owns=not bind.in_transaction()
    )


def _backfill(
    conn: sa.Connection,
    table: str | sa.Table,
    column: str,
    schema: str | None,
    batch_size: int,
    on_batch: Callable[[int], None] | None,
    *,
    owns: bool,
) -> int:
    try:
        t = reflect_versioned_table(conn, table, column, schema)
    except sa.exc.NoSuchTableError:
        raise ConfigurationError(f"there is no table {table!r} to backfill") from None
    finally:
        if owns and conn.in_transaction():
            conn.rollback()  # end the reflection's transaction before the first batch
    key_cols = list(t.primary_key.columns)
    key: Any = key_cols[0] if len(key_cols) == 1 else sa.tuple_(*key_cols)
    version = t.c[column]
    total = 0
    last: Any = None
    while True:
        after = [] if last is None else [key > last]
        pick = (
            sa.select(*key_cols)
            .where(version.is_(None), *after)
            .order_by(*key_cols)
            .limit(batch_size)
        )
        rows = conn.execute(pick).all()
        if not rows:
            break
        upper: Any = rows[-1][0] if len(key_cols) == 1 else sa.tuple_(*rows[-1])
        stmt = sa.update(t).where(version.is_(None), key <= upper, *after).values({version: 1})
        count = conn.execute(stmt).rowcount
        if owns and conn.in_transaction():
            conn.commit()
        total += count
        if on_batch is not None:
            on_batch(count)
        last = upper
    return total
