"""What the review pages show: values as text, field rows with highlights, field editors.

Everything here is plain data for the templates, which escape it: a value
holding ``<script>`` is shown as text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from occ.conflicts import StoredConflict
from occ.conflicts._archive import dumps, loads
from occ.conflicts._records import to_jsonable

__all__ = ["Editor", "FieldRow", "display", "editors", "field_rows", "parse_edits", "version_text"]

_MISSING: Any = object()


def display(value: Any) -> str:
    """A value as a reviewer reads it: text as is, everything else as compact JSON."""
    if value is _MISSING:
        return ""
    if value is None:
        return "∅"
    if isinstance(value, str) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return json.dumps(to_jsonable(value), ensure_ascii=False)


def version_text(version: Any) -> str:
    """A version as posted back by a form (archive JSON: an int or a tagged datetime)."""
    return dumps(version)


@dataclass(frozen=True)
class FieldRow:
    """One field across base, mine, theirs (at the conflict) and now.

    Attributes:
        name: the field.
        base, mine, theirs, now: the values as text.
        mine_changed: I changed it.
        theirs_changed: they changed it before me.
        moved: it changed again since the conflict.
    """

    name: str
    base: str
    mine: str
    theirs: str
    now: str
    mine_changed: bool
    theirs_changed: bool
    moved: bool

    @property
    def css(self) -> str:
        """Classes that highlight who changed it."""
        both = self.mine_changed and self.theirs_changed
        names = [
            "both"
            if both
            else "mine"
            if self.mine_changed
            else "theirs"
            if self.theirs_changed
            else ""
        ]
        if self.moved:
            names.append("moved")
        return " ".join(n for n in names if n)


def field_rows(record: StoredConflict, now: Mapping[str, Any] | None) -> list[FieldRow]:
    """A row for every field of base, mine, theirs and the stored value now."""
    c = record.conflict
    base, theirs = c.base or {}, c.theirs or {}
    current = now or {}
    names = list(dict.fromkeys([*base, *c.mine, *theirs, *current]))
    rows = []
    for name in names:
        b = base.get(name, _MISSING)
        m = c.mine.get(name, _MISSING)
        t = theirs.get(name, _MISSING) if c.theirs is not None else _MISSING
        n = current.get(name, _MISSING) if now is not None else _MISSING
        rows.append(
            FieldRow(
                name=name,
                base=display(b),
                mine=display(m),
                theirs=display(t),
                now=display(n),
                mine_changed=name in c.changes and not _same(m, b),
                theirs_changed=c.theirs is not None and c.base is not None and not _same(t, b),
                moved=now is not None and c.theirs is not None and not _same(n, t),
            )
        )
    return rows


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # values that refuse comparison
        return False


@dataclass(frozen=True)
class Editor:
    """An input of the "edit the merged value" form.

    Attributes:
        name: the field.
        kind: ``text``, ``int``, ``float``, ``decimal``, ``bool``, ``date``,
            ``datetime``, ``enum`` or ``json`` (archive JSON, for anything else).
        value: the proposed value, as the input's text.
        choices: the members' names, for ``enum``.
    """

    name: str
    kind: str
    value: str
    choices: tuple[str, ...] = ()


def _kind(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return "enum"
    return {
        str: "text",
        bool: "bool",
        int: "int",
        float: "float",
        decimal.Decimal: "decimal",
        dt.date: "date",
        dt.datetime: "datetime",
    }.get(type(value), "json")


def _text(kind: str, value: Any) -> str:
    if kind == "enum":
        return str(value.name)
    if kind == "json":
        return dumps(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind in ("date", "datetime"):
        return str(value.isoformat())
    return str(value)


def editors(record: StoredConflict, now: Mapping[str, Any] | None) -> list[Editor]:
    """Inputs proposing mine where I changed a field, what is stored now elsewhere."""
    c = record.conflict
    current = dict(now if now is not None else c.theirs or {})
    out = []
    for name in dict.fromkeys([*c.changes, *current]):
        proposed = c.changes[name] if name in c.changes else current.get(name)
        kind = _kind(proposed)
        members = list(proposed.__class__) if isinstance(proposed, enum.Enum) else []
        choices = tuple(m.name for m in members)
        out.append(Editor(name, kind, _text(kind, proposed), choices))
    return out


def parse_edits(
    record: StoredConflict, now: Mapping[str, Any] | None, form: Mapping[str, str]
) -> dict[str, Any]:
    """The values an edit form posted, each parsed as its editor's kind.

    Raises:
        ValueError: a field's text is not a value of its kind (the message names it).
    """
    out: dict[str, Any] = {}
    for editor in editors(record, now):
        text = form.get(f"f:{editor.name}")
        if text is None:
            continue
        try:
            out[editor.name] = _parse(editor, record, now, text)
        except (ValueError, KeyError, decimal.InvalidOperation) as exc:
            raise ValueError(
                f"{editor.name}: {text!r} is not a {editor.kind} value ({exc})"
            ) from None
    return out


def _parse(editor: Editor, record: StoredConflict, now: Mapping[str, Any] | None, text: str) -> Any:
    kind = editor.kind
    if kind == "text":
        return text
    if kind == "bool":
        return {"true": True, "false": False}[text.strip().lower()]
    if kind == "int":
        return int(text.strip())
    if kind == "float":
        return float(text.strip())
    if kind == "decimal":
        return decimal.Decimal(text.strip())
    if kind == "date":
        return dt.date.fromisoformat(text.strip())
    if kind == "datetime":
        return dt.datetime.fromisoformat(text.strip())
    if kind == "enum":
        c = record.conflict
        sample = c.changes.get(editor.name, (now or c.theirs or {}).get(editor.name))
        return type(sample)[text.strip()]
    return loads(text)
