"""Models that cannot be versioned get a clear ConfigurationError, never an error from
inside SQLAlchemy (no bare KeyError or AttributeError)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import occ
import occ.orm
import occ.sql


@pytest.fixture
def base() -> Iterator[type[DeclarativeBase]]:
    class Local(DeclarativeBase):
        pass

    yield Local
    Local.registry.dispose()


def refused(model: Any, match: str, **options: Any) -> None:
    """Both ways in refuse ``model``: the ORM opt-in and a repository."""
    sa.orm.configure_mappers()
    with pytest.raises(occ.ConfigurationError, match=match):
        occ.orm.versioned(model, **options)
    assert not occ.orm.is_versioned(model)
    engine = sa.create_engine("sqlite://")
    with pytest.raises(occ.ConfigurationError, match=match):
        occ.sql.Repository(engine, model, **options)
    engine.dispose()


def test_a_class_mapped_to_a_select_is_refused(base: type[DeclarativeBase]) -> None:
    table = sa.Table(
        "occ_orm_plain",
        base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer),
    )

    class Selected(base):  # type: ignore[valid-type, misc]
        __table__ = sa.select(table).where(table.c.id > 0).subquery()

    refused(Selected, "not a Table")


def test_a_joined_subclass_with_a_key_not_mapped_is_refused(
    base: type[DeclarativeBase],
) -> None:
    table = sa.Table(
        "occ_orm_nokey", base.metadata, sa.Column("a", sa.Integer), sa.Column("v", sa.Integer)
    )

    class NoKey(base):  # type: ignore[valid-type, misc]
        __table__ = table
        __mapper_args__: Any = {"primary_key": [table.c.a]}

    refused(NoKey, "no primary key", version_column="v")


def test_a_version_column_that_cannot_hold_the_scheme_is_refused(
    base: type[DeclarativeBase],
) -> None:
    class Texty(base):  # type: ignore[valid-type, misc]
        __tablename__ = "occ_orm_texty"
        id: Mapped[int] = mapped_column(primary_key=True)
        version: Mapped[str] = mapped_column(sa.String(10))

    refused(Texty, "integer versions need an Integer")
    refused(Texty, "timestamp versions need a DateTime", version_type="timestamp")


def test_a_version_on_a_subclass_table_is_refused(base: type[DeclarativeBase]) -> None:
    class Root(base):  # type: ignore[valid-type, misc]
        __tablename__ = "occ_orm_root"
        id: Mapped[int] = mapped_column(primary_key=True)
        type: Mapped[str] = mapped_column(sa.String(10))
        __mapper_args__: Any = {"polymorphic_on": "type", "polymorphic_identity": "root"}

    class Leaf(Root):
        __tablename__ = "occ_orm_leaf"
        id: Mapped[int] = mapped_column(sa.ForeignKey("occ_orm_root.id"), primary_key=True)
        version: Mapped[int | None]
        __mapper_args__: Any = {"polymorphic_identity": "leaf"}

    refused(Leaf, "lives on its base table")
    refused(Root, "no version column 'version'")


def test_an_attribute_over_two_columns_is_refused(base: type[DeclarativeBase]) -> None:
    class Parent(base):  # type: ignore[valid-type, misc]
        __tablename__ = "occ_orm_parent"
        id: Mapped[int] = mapped_column(primary_key=True)
        type: Mapped[str] = mapped_column(sa.String(10))
        name: Mapped[str] = mapped_column(sa.String(10))
        version: Mapped[int | None]
        __mapper_args__: Any = {"polymorphic_on": "type", "polymorphic_identity": "p"}

    class Child(Parent):
        __tablename__ = "occ_orm_child"
        id: Mapped[int] = mapped_column(sa.ForeignKey("occ_orm_parent.id"), primary_key=True)
        name = sa.orm.column_property(sa.Column("name", sa.String(10)), Parent.name)
        __mapper_args__: Any = {"polymorphic_identity": "c"}

    refused(Child, "maps 2 columns")


def test_a_hierarchy_told_apart_by_an_expression_is_refused_for_polymorphic_reads(
    base: type[DeclarativeBase],
) -> None:
    class Thing(base):  # type: ignore[valid-type, misc]
        __tablename__ = "occ_orm_things"
        id: Mapped[int] = mapped_column(primary_key=True)
        code: Mapped[str] = mapped_column(sa.String(10))
        version: Mapped[int | None]
        __mapper_args__: Any = {
            "polymorphic_on": sa.case((code.startswith("b"), "big"), else_="thing"),
            "polymorphic_identity": "thing",
        }

    class Big(Thing):
        __mapper_args__: Any = {"polymorphic_identity": "big"}

    sa.orm.configure_mappers()
    occ.orm.versioned(Thing)  # the ORM writes each object as its own class: fine
    engine = sa.create_engine("sqlite://")
    with pytest.raises(occ.ConfigurationError, match="polymorphic_on is a SQL expression"):
        occ.sql.Repository(engine, Thing)
    occ.sql.Repository(engine, Big)  # a leaf class has no subclasses to tell apart
    engine.dispose()
