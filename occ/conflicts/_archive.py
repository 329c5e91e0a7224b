"""How conflict stores keep values: JSON text that restores every value exactly.

Plain JSON stays plain: ``None``, ``bool``, ``int`` (any size), ``str``, lists,
and dicts whose keys are strings not starting with ``$`` (their order kept).
Everything else is a *tagged* value, a JSON object with exactly one key that
starts with ``$``::

    {"$datetime": "2020-01-01T00:00:00"}     {"$dict": [["$set", [1, 2]]]}

A user dict that could be read as a tag (a key starting with ``$``, or a
key that is not a string) is itself tagged, ``$dict``, with its items as
pairs: so ``{"$date": "2020-01-01"}`` stays a dict and never becomes a date.

Tagged types: ``float`` (every one, NaN and infinities included, so the text
is strict JSON), ``datetime`` (naive, fixed offset or ``zoneinfo``, with
``fold``), ``date``, ``time``, ``timedelta``, ``Decimal`` (NaN and signed
zeros included), ``UUID``, ``bytes``, ``bytearray``, ``set``, ``frozenset``,
``tuple``, ``Enum`` members (by class and value), ``ipaddress`` values, and
the BSON types a MongoDB document holds (``ObjectId``, ``Int64``,
``Decimal128``, ``Binary`` with its subtype, ``Regex``, ``Timestamp``,
``Code``, ``MinKey``, ``MaxKey``). Subclasses of ``dict`` and ``list``
(``MutableDict``, ``SON``) are kept as their items, and of ``str`` (``quoted_name``)
as their text.

Any other value is refused: :func:`dumps` raises :class:`Unarchivable`
naming where it is, rather than keeping a ``repr`` that would be written back
as a string.

An enum is restored only when its module is already imported in the reading
process (stored text never makes :func:`loads` import code); otherwise it
reads back as an :class:`ArchivedEnum` that says which member it was.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import ipaddress
import json
import math
import sys
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ArchivedEnum", "Unarchivable", "dumps", "is_restorable", "loads"]

_PLAIN = (type(None), bool, int, str)
_IP = {
    cls.__name__: cls
    for cls in (
        ipaddress.IPv4Address,
        ipaddress.IPv6Address,
        ipaddress.IPv4Network,
        ipaddress.IPv6Network,
        ipaddress.IPv4Interface,
        ipaddress.IPv6Interface,
    )
}


class Unarchivable(ValueError):
    """A value the archive cannot restore exactly.

    Attributes:
        path: where it is, e.g. ``mine.meta[2]``.
        value_type: the name of its type.
    """

    def __init__(self, path: str, value: Any) -> None:
        self.path = path
        self.value_type = f"{type(value).__module__}.{type(value).__qualname__}"
        super().__init__(
            f"{path} holds a {self.value_type}, which a conflict store cannot restore exactly "
            "(it keeps JSON values, dates and times, Decimal, UUID, bytes, sets, tuples, "
            "enums, IP addresses and BSON values)"
        )


@dataclass(frozen=True)
class ArchivedEnum:
    """An enum member whose class is not imported in this process.

    Attributes:
        cls: ``module:QualName`` of its class.
        name: the member's name.
        value: the member's value.
    """

    cls: str
    name: str | None
    value: Any

    def __str__(self) -> str:
        return f"{self.cls.rpartition(':')[2]}.{self.name}"


# -- writing ------------------------------------------------------------------


def dumps(value: Any, *, path: str = "value") -> str:
    """The archive's JSON text of ``value``.

    Raises:
        Unarchivable: ``value`` holds something that would not read back exactly.
    """
    return json.dumps(_tag(value, path), ensure_ascii=True, allow_nan=False)


def _tag(value: Any, path: str) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$float": str(value)}
    if isinstance(value, list | dict):
        return _container(value, path)
    write = _WRITERS.get(kind) or _late_writer(kind)
    if write is not None:
        return write(value, path)
    if isinstance(value, enum.Enum):
        cls = f"{kind.__module__}:{kind.__qualname__}"
        return {"$enum": [cls, value.name, _tag(value.value, f"{path}.value")]}
    if isinstance(value, str):  # quoted_name and other plain-text subclasses
        return str(value)
    raise Unarchivable(path, value)


def _container(value: Any, path: str) -> Any:
    if isinstance(value, list):
        return [_tag(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if all(_plain_key(k) for k in value):
        return {str(k): _tag(v, f"{path}.{k}") for k, v in value.items()}
    pairs = [[_tag(k, f"{path} key"), _tag(v, f"{path}[{k!r}]")] for k, v in value.items()]
    return {"$dict": pairs}


def _plain_key(key: Any) -> bool:
    return isinstance(key, str) and not isinstance(key, enum.Enum) and not key.startswith("$")


def _datetime(value: dt.datetime, path: str) -> Any:
    tz = value.tzinfo
    if isinstance(tz, zoneinfo.ZoneInfo) and tz.key is not None:
        naive = value.replace(tzinfo=None).isoformat()
        return {"$datetime": [naive, tz.key, value.fold]}
    if tz is not None and type(tz) is not dt.timezone:
        raise Unarchivable(f"{path}.tzinfo", tz)
    if value.fold:
        return {"$datetime": [value.isoformat(), None, 1]}
    return {"$datetime": value.isoformat()}


def _time(value: dt.time, path: str) -> Any:
    if value.tzinfo is not None and type(value.tzinfo) is not dt.timezone:
        raise Unarchivable(f"{path}.tzinfo", value.tzinfo)
    return {"$time": [value.isoformat(), value.fold]}


def _items(tag: str) -> Callable[[Any, str], Any]:
    def write(value: Any, path: str) -> Any:
        return {tag: [_tag(v, f"{path}[{i}]") for i, v in enumerate(value)]}

    return write


def _set(tag: str) -> Callable[[Any, str], Any]:
    def write(value: Any, path: str) -> Any:
        items = [_tag(v, f"{path} item") for v in value]
        return {tag: sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}

    return write


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _ip(value: Any, path: str) -> Any:
    return {"$ip": [type(value).__name__, str(value)]}


#: writers by exact type (a subclass is not the same value: it is refused).
_WRITERS: dict[type, Callable[[Any, str], Any]] = {
    dt.datetime: _datetime,
    dt.date: lambda v, p: {"$date": v.isoformat()},
    dt.time: _time,
    dt.timedelta: lambda v, p: {"$timedelta": [v.days, v.seconds, v.microseconds]},
    decimal.Decimal: lambda v, p: {"$decimal": str(v)},
    uuid.UUID: lambda v, p: {"$uuid": str(v)},
    bytes: lambda v, p: {"$bytes": _b64(v)},
    bytearray: lambda v, p: {"$bytearray": _b64(bytes(v))},
    tuple: _items("$tuple"),
    set: _set("$set"),
    frozenset: _set("$frozenset"),
    **dict.fromkeys(_IP.values(), _ip),
}


def _late_writer(kind: type) -> Callable[[Any, str], Any] | None:
    """The writer of a BSON type (registered on first sight: only then is ``bson`` loaded)."""
    if not kind.__module__.startswith("bson") or "bson" not in sys.modules:
        return None
    import bson

    def code(value: Any, path: str) -> Any:
        if value.scope is not None:
            raise Unarchivable(f"{path}.scope", value.scope)
        return {"$code": str(value)}

    _WRITERS.update(
        {
            bson.ObjectId: lambda v, p: {"$oid": str(v)},
            bson.Int64: lambda v, p: {"$int64": int(v)},
            bson.Decimal128: lambda v, p: {"$decimal128": str(v)},
            bson.Binary: lambda v, p: {"$binary": [_b64(bytes(v)), v.subtype]},
            bson.Regex: lambda v, p: {"$regex": [v.pattern, v.flags]},
            bson.Timestamp: lambda v, p: {"$timestamp": [v.time, v.inc]},
            bson.Code: code,
            bson.MinKey: lambda v, p: {"$minkey": 1},
            bson.MaxKey: lambda v, p: {"$maxkey": 1},
        }
    )
    return _WRITERS.get(kind)


# -- reading ------------------------------------------------------------------


def loads(text: str | None) -> Any:
    """The value :func:`dumps` wrote (``None`` for ``None``).

    Raises:
        ValueError: the text is not archive JSON (an unknown tag, a corrupt value).
    """
    return None if text is None else _untag(json.loads(text))


def _untag(data: Any) -> Any:
    if isinstance(data, list):
        return [_untag(v) for v in data]
    if not isinstance(data, dict):
        return data
    tags = [k for k in data if k.startswith("$")]
    if not tags:
        return {k: _untag(v) for k, v in data.items()}
    if len(data) != 1:
        raise ValueError(f"archive JSON: a tag must be alone in its object, got {sorted(data)}")
    ((tag, inner),) = data.items()
    read = _READERS.get(tag)
    if read is None:
        raise ValueError(f"archive JSON: unknown tag {tag!r}")
    return read(inner)


def _read_datetime(inner: Any) -> dt.datetime:
    if isinstance(inner, str):
        return dt.datetime.fromisoformat(inner)
    text, zone, fold = inner
    value = dt.datetime.fromisoformat(text).replace(fold=fold)
    return value if zone is None else value.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def _read_time(inner: Any) -> dt.time:
    if isinstance(inner, str):  # written before fold was kept
        return dt.time.fromisoformat(inner)
    return dt.time.fromisoformat(inner[0]).replace(fold=inner[1])


def _read_enum(inner: Any) -> Any:
    path, name, value = inner[0], inner[1], _untag(inner[2])
    module, _, qualname = path.partition(":")
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if isinstance(found, type) and issubclass(found, enum.Enum):
        return found(value)
    return ArchivedEnum(path, name, value)


def _read_ip(inner: Any) -> Any:
    cls = _IP.get(inner[0])
    if cls is None:
        raise ValueError(f"archive JSON: unknown address type {inner[0]!r}")
    return cls(inner[1])


def _bson(name: str) -> Any:
    import bson

    return getattr(bson, name)


_READERS: dict[str, Callable[[Any], Any]] = {
    "$float": float,
    "$dict": lambda pairs: {_untag(k): _untag(v) for k, v in pairs},
    "$datetime": _read_datetime,
    "$date": dt.date.fromisoformat,
    "$time": _read_time,
    "$timedelta": lambda parts: dt.timedelta(*parts),
    "$decimal": decimal.Decimal,
    "$uuid": uuid.UUID,
    "$bytes": lambda text: base64.b64decode(text),
    "$bytearray": lambda text: bytearray(base64.b64decode(text)),
    "$set": lambda items: {_untag(v) for v in items},
    "$frozenset": lambda items: frozenset(_untag(v) for v in items),
    "$tuple": lambda items: tuple(_untag(v) for v in items),
    "$enum": _read_enum,
    "$ip": _read_ip,
    "$oid": lambda text: _bson("ObjectId")(text),
    "$int64": lambda n: _bson("Int64")(n),
    "$decimal128": lambda text: _bson("Decimal128")(text),
    "$binary": lambda parts: _bson("Binary")(base64.b64decode(parts[0]), parts[1]),
    "$regex": lambda parts: _bson("Regex")(parts[0], parts[1]),
    "$timestamp": lambda parts: _bson("Timestamp")(parts[0], parts[1]),
    "$code": lambda text: _bson("Code")(text),
    "$minkey": lambda _: _bson("MinKey")(),
    "$maxkey": lambda _: _bson("MaxKey")(),
    "$repr": lambda text: LegacyRepr(text),
}


@dataclass(frozen=True)
class LegacyRepr:
    """A value an earlier ``occ`` archived only as its ``repr``: it cannot be written back."""

    text: str

    def __str__(self) -> str:
        return self.text


def is_restorable(value: Any) -> bool:
    """False when ``value`` holds an :class:`ArchivedEnum` or a legacy ``repr``."""
    if isinstance(value, ArchivedEnum | LegacyRepr):
        return False
    if isinstance(value, dict):
        return all(is_restorable(k) and is_restorable(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(is_restorable(v) for v in value)
    return True
