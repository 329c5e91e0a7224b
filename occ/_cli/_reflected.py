"""Write a stored conflict's values into a table the CLI only knows by reflection.

Reflection gives the column types the database reports, which are not always
the types the application maps: MariaDB reports a ``JSON`` column as
``LONGTEXT`` (with a ``json_valid`` check), an ``Enum`` stored as text is a
``VARCHAR``, a legacy JSON column may be plain ``LONGTEXT``. So each value is
written only in a form the column is known to hold:

- a JSON column (reflected as JSON, or MariaDB ``LONGTEXT`` with a
  ``json_valid`` check): JSON data, as JSON;
- a native enum column: the member's name or value, whichever is a label;
- any other column: a value of the column's Python type, as it is;
- a text column given anything else (a dict, an enum member), or a text column
  that holds JSON text: the form that turns the archived *theirs* into what
  the row holds now (JSON text, the member's name, its value).

Anything else is refused before writing, naming the column; ``--model``
(the application's own mapped class) writes every value exactly.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from occ._cli._common import CliError
from occ.conflicts import ArchivedEnum

__all__ = ["ReflectedRepository", "reflect"]

_JSON_DATA = (dict, list, str, int, float, bool, type(None))


def reflect(engine: sa.Engine, name: str) -> sa.Table:
    """The table ``name``, with MariaDB's ``json_valid``-checked LONGTEXT columns as JSON."""
    columns: list[sa.Column[Any]] = []
    if engine.dialect.name == "mysql":
        columns = [sa.Column(col, sa.JSON) for col in _json_checked(engine, name)]
    return sa.Table(name, sa.MetaData(), *columns, autoload_with=engine)


def _json_checked(engine: sa.Engine, table: str) -> list[str]:
    """Columns of ``table`` with a ``json_valid(column)`` check (MariaDB's JSON)."""
    query = sa.text(
        "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = :t"
    )
    with engine.connect() as conn:
        clauses = [str(row[0]) for row in conn.execute(query, {"t": table})]
    out = []
    for clause in clauses:
        text = clause.replace(" ", "").lower()
        if text.startswith("json_valid(`") and text.endswith("`)"):
            out.append(clause.strip()[len("json_valid(`") : -2])
    return out


class ReflectedRepository:
    """A repository of a reflected table that writes archived values as the columns hold them.

    Args:
        repository: an ``occ.sql.Repository`` of ``table``.
        engine: its engine (to read what a text column holds now).
        table: the reflected table (see :func:`reflect`).
    """

    #: tells the conflict store this repository converts archived enums itself.
    accepts_archived = True

    def __init__(self, repository: Any, engine: sa.Engine, table: sa.Table) -> None:
        self.repository = repository
        self.engine = engine
        self.table = table

    def find(self, key: Any) -> Any:
        """The stored value under ``key``, or ``None``."""
        return self.repository.find(key)

    def update(
        self, key: Any, changes: Mapping[str, Any], *, expected_version: Any, base: Any = None
    ) -> Any:
        """Write ``changes`` in the columns' forms, expecting ``expected_version``.

        Raises:
            CliError: a value has no form its column is known to hold (nothing written).
        """
        theirs = dict(base or {})
        raw: dict[str, Any] = {}  # the row's text columns, read once per write, when needed
        written = {
            name: self._form(key, name, value, theirs.get(name, _MISSING), raw)
            for name, value in changes.items()
        }
        return self.repository.update(key, written, expected_version=expected_version, base=base)

    def _form(self, key: Any, name: str, value: Any, theirs: Any, raw: dict[str, Any]) -> Any:
        column = self.table.c[name]
        kind = column.type
        if value is None:
            return None
        if isinstance(kind, sa.JSON):
            if _json_data(value):
                return value
            raise _refused(column, value, "a JSON column holds JSON data")
        if isinstance(kind, sa.Enum) and kind.enums:
            return _label(column, value, list(kind.enums))
        expected = _python_type(kind)
        if expected is str:
            return self._text(key, column, value, theirs, raw)
        if expected is not None and _fits(value, expected):
            return value
        raise _refused(column, value, f"the column holds {getattr(expected, '__name__', kind)}")

    def _text(
        self, key: Any, column: sa.Column[Any], value: Any, theirs: Any, row: dict[str, Any]
    ) -> Any:
        """``value`` in the form that turns archived ``theirs`` into the text stored now."""
        raw = self._raw_value(key, column.name, row)
        if raw is None and theirs in (None, _MISSING):
            forms = {"plain"}  # nothing stored to learn from: the column's own type says text
        else:
            forms = {f for f, write in _TEXT_FORMS.items() if f != "json" and write(theirs) == raw}
            if _json_equal(raw, theirs):
                forms.add("json")
        outs = {repr(out): out for f in forms if (out := _TEXT_FORMS[f](value)) is not _MISSING}
        if len(outs) == 1:
            return next(iter(outs.values()))
        raise _refused(
            column, value, "reflection cannot tell how this text column holds it (pass --model)"
        )

    def _raw_value(self, key: Any, name: str, row: dict[str, Any]) -> Any:
        if not row:
            t = self.table
            parts = key if isinstance(key, tuple) else (key,)
            where = [c == v for c, v in zip(t.primary_key.columns, parts, strict=True)]
            text_columns = [c for c in t.columns if _python_type(c.type) is str]
            with self.engine.connect() as conn:
                found = conn.execute(sa.select(*text_columns).where(*where)).mappings().first()
            row.update(found or {})
            row.setdefault("\x00read", True)
        return row.get(name)


_MISSING: Any = object()


def _python_type(kind: Any) -> type | None:
    try:
        found: type = kind.python_type
    except NotImplementedError:
        return None
    return found


def _fits(value: Any, expected: type) -> bool:
    if expected is int:
        return type(value) is int
    if expected is float:
        return type(value) in (int, float)
    return type(value) is expected


def _json_data(value: Any) -> bool:
    if isinstance(value, enum.Enum) or type(value) not in _JSON_DATA:
        return False
    if isinstance(value, dict):
        return all(type(k) is str and _json_data(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_data(v) for v in value)
    return True


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _MISSING


def _json_equal(raw: Any, theirs: Any) -> bool:
    if not isinstance(raw, str) or not _json_data(theirs):
        return False
    found = _loads(raw)
    return found is not _MISSING and json.dumps(found) == json.dumps(theirs) and raw != theirs


def _name(value: Any) -> Any:
    return value.name if isinstance(value, enum.Enum | ArchivedEnum) else _MISSING


def _value(value: Any) -> Any:
    if isinstance(value, enum.Enum | ArchivedEnum):
        return value.value if isinstance(value.value, str) else _MISSING
    return _MISSING


#: how a text column may hold a value: as is (text), its enum name, its enum value, JSON.
def _plain(value: Any) -> Any:
    return value if isinstance(value, str) and not isinstance(value, enum.Enum) else _MISSING


def _json_text(value: Any) -> Any:
    return json.dumps(value) if _json_data(value) else _MISSING


_TEXT_FORMS: dict[str, Callable[[Any], Any]] = {
    "plain": _plain,
    "name": _name,
    "value": _value,
    "json": _json_text,
}


def _label(column: sa.Column[Any], value: Any, labels: list[str]) -> str:
    """The label of a native enum column that stands for ``value``."""
    if isinstance(value, str) and not isinstance(value, enum.Enum):
        if value in labels:
            return value
        raise _refused(column, value, f"its labels are {labels}")
    candidates = {_name(value), _value(value)} & set(labels)
    if len(candidates) == 1:
        return str(candidates.pop())
    raise _refused(column, value, f"its labels are {labels}")


def _refused(column: sa.Column[Any], value: Any, why: str) -> CliError:
    shown = str(value) if isinstance(value, ArchivedEnum | enum.Enum) else repr(value)
    if len(shown) > 60:
        shown = shown[:59] + "…"
    return CliError(
        f"cannot write {shown} into {column.table.name}.{column.name} "
        f"({column.type.compile() if _compiles(column) else column.type!r}): {why}; "
        "nothing was written. Pass --model module:Class (your mapped class) to write it exactly"
    )


def _compiles(column: sa.Column[Any]) -> bool:
    try:
        column.type.compile()
    except Exception:  # a dialect-only type
        return False
    return True
