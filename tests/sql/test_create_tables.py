"""occ creates its own tables on first use; two creators at once must both succeed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from occ.sql._engines import create_tables


def _table(name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))


def test_a_table_created_by_another_between_the_check_and_the_create_is_no_error(
    engine: sa.Engine,
) -> None:
    name = f"occ_t_race_{uuid.uuid4().hex[:8]}"
    table = _table(name)
    slipped: list[str] = []

    def other_creator_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE") and not slipped:
            slipped.append(name)
            with engine.begin() as other:  # another relay or repository, a moment earlier
                _table(name).create(other)

    sa.event.listen(engine, "before_cursor_execute", other_creator_first)
    try:
        create_tables(engine, table)
    finally:
        sa.event.remove(engine, "before_cursor_execute", other_creator_first)
        with engine.begin() as conn:
            table.drop(conn, checkfirst=True)
    assert slipped == [name]  # the race really happened


def test_a_create_that_fails_for_another_reason_still_raises(engine: sa.Engine) -> None:
    bad = sa.Table(
        f"occ_t_bad_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("x", sa.Integer, sa.CheckConstraint("no_such_column > 0")),
    )
    with pytest.raises(sa.exc.DBAPIError):
        create_tables(engine, bad)
    assert not sa.inspect(engine).has_table(bad.name)  # nothing was created
