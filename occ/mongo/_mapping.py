"""How a model maps to MongoDB documents: key, version, token, fields, values.

Pure: no client is touched here. Values are plain dicts, dataclasses or
pydantic v2 models; a record (what the core passes around) is the document
without ``_id``, the version and the write token, with nested values as plain
dicts and lists.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import types
import typing
import uuid
from collections.abc import Mapping
from typing import Any, Union

from bson import Code, Decimal128, ObjectId, Regex

from occ._core.model import Record, Version, freeze
from occ._core.steps import Stored
from occ._core.versions import IntVersions, VersionScheme
from occ.errors import ConfigurationError, ValidationError

__all__ = ["OUTBOX_FIELD", "DocumentMap", "check_name", "plain", "same"]

#: where a document carries its change events until a relay publishes them (occ.sync);
#: never part of a record, and never writable.
OUTBOX_FIELD = "_occ_outbox"
_MISSING = object()
#: the literal types a key (``_id``) may have: a filter on them matches one document.
_KEY_TYPES = (str, int, float, bytes, ObjectId, uuid.UUID, dt.datetime, decimal.Decimal, Decimal128)
_KEY_SCALARS = frozenset({str, int, ObjectId, uuid.UUID})
#: types that are never containers: checked and converted at once.
_SCALARS = frozenset({str, int, float, bool, type(None), bytes, ObjectId})


def check_name(name: Any, *, entity: str, path: str = "") -> None:
    """Refuse a field name MongoDB would read as an operator or a path.

    Raises:
        ValidationError: ``name`` is not a non-empty str, starts with ``$``,
            or contains ``.`` or a NUL character.
    """
    where = f"{entity}.{path}{name}" if isinstance(name, str) else f"{entity}.{path}"
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{where}: field names must be non-empty strings, got {name!r}")
    if name.startswith("$"):
        raise ValidationError(
            f"{where}: a field name cannot start with '$' (MongoDB reads it as an operator); "
            "rename the field"
        )
    if "." in name:
        raise ValidationError(
            f"{where}: a field name cannot contain '.' (MongoDB reads it as a path); pass nested "
            "values as nested dicts and occ builds the paths"
        )
    if "\x00" in name:
        raise ValidationError(f"{where}: a field name cannot contain a NUL character")


def check_nested(value: Any, *, entity: str, path: str) -> None:
    """Check every key of the dicts nested in ``value`` (lists included)."""
    if type(value) in _SCALARS:
        return
    if isinstance(value, Mapping):
        for name, item in value.items():
            check_name(name, entity=entity, path=path)
            check_nested(item, entity=entity, path=f"{path}{name}.")
    elif isinstance(value, list | tuple):
        for item in value:
            check_nested(item, entity=entity, path=path)


def plain(value: Any) -> Any:
    """``value`` with nested dataclasses and pydantic models turned into dicts."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if dump is not None and hasattr(type(value), "model_fields"):
        return plain(dump(mode="python"))
    return value


def same(a: Any, b: Any) -> bool:
    """Equality that tells ``1`` from ``1.0`` and ``True`` (BSON stores them differently)."""
    if type(a) in _SCALARS:
        return type(a) is type(b) and bool(a == b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _is_pydantic(model: Any) -> bool:
    return (
        isinstance(model, type)
        and hasattr(model, "model_fields")
        and hasattr(model, "model_validate")
    )


class DocumentMap:
    """Key, version, token and fields of one model stored in one collection.

    Args:
        model: ``dict`` (or ``None``), a dataclass or a pydantic v2 model class.
        entity: name used in errors (the model's or the collection's).
        key: the attribute (or dict key) stored as ``_id``; default ``"_id"`` for
            dicts and ``"id"`` for classes.
        version_field: name of the version field, in the document and the model.
        token_field: document field holding the random token of the last write.
        shard_key: fields and values added to every filter (and to inserts).
    """

    def __init__(
        self,
        model: Any,
        *,
        entity: str,
        key: str | None,
        version_field: str,
        token_field: str,
        shard_key: Mapping[str, Any] | None,
    ) -> None:
        self.model: Any = dict if model is None else model
        self.name = entity
        if self.model is dict:
            self.kind = "dict"
            self.fields: tuple[str, ...] | None = None
        elif dataclasses.is_dataclass(self.model) and isinstance(self.model, type):
            self.kind = "dataclass"
            self.fields = tuple(f.name for f in dataclasses.fields(self.model))
        elif _is_pydantic(self.model):
            self.kind = "pydantic"
            pydantic_model: Any = self.model
            self.fields = tuple(pydantic_model.model_fields)
        else:
            raise ConfigurationError(
                f"model must be dict, a dataclass or a pydantic v2 model class, got {model!r}"
            )
        self.key = key if key is not None else ("_id" if self.kind == "dict" else "id")
        self.version_field = version_field
        self.token_field = token_field
        for what, name in (("version_field", version_field), ("token_field", token_field)):
            try:
                check_name(name, entity=entity)
            except ValidationError as exc:
                raise ConfigurationError(f"{what}: {exc}") from None
            if name == "_id":
                raise ConfigurationError(f"{what} cannot be '_id': _id holds the key")
        if len({self.key, version_field, token_field}) != 3:
            raise ConfigurationError(
                f"{entity}: key {self.key!r}, version_field {version_field!r} and token_field "
                f"{token_field!r} must be three different names"
            )
        if self.fields is not None:
            for what, name in (("key", self.key), ("version_field", version_field)):
                if name not in self.fields:
                    raise ConfigurationError(
                        f"{entity} has no field {name!r} for its {what}; add it (with a default "
                        f"of None) or pass {what}= the field to use"
                    )
            if token_field in self.fields:
                raise ConfigurationError(
                    f"{entity}.{token_field} is a model field; pick another token_field"
                )
        self.shard_key: dict[str, Any] = dict(shard_key or {})
        for name, value in self.shard_key.items():
            try:
                check_name(name, entity=entity)
            except ValidationError as exc:
                raise ConfigurationError(f"shard_key: {exc}") from None
            if name in (self.key, "_id", version_field, token_field):
                raise ConfigurationError(f"shard_key cannot name {name!r}")
            if isinstance(value, Mapping | list | tuple):
                raise ConfigurationError(
                    f"shard_key {name!r}: use a scalar value (got {type(value).__name__})"
                )
        self._reserved = {"_id", self.key, version_field, token_field, OUTBOX_FIELD}
        #: field names already checked writable (bounded: dict models may vary).
        self._writable: set[str] = set()
        self._hints: dict[str, Any] | None = None
        self.versions: VersionScheme = IntVersions()
        #: the operations MongoDB applies atomically (fast path).
        self.commutative: frozenset[str] = frozenset({"inc", "add_to_set", "max", "min"})

    # -- names --------------------------------------------------------------

    def _check_field(self, name: Any) -> None:
        if name in self._writable:
            return
        check_name(name, entity=self.name)
        if name in self._reserved:
            if name == self.version_field:
                raise ValidationError(
                    f"{self.name}.{name} is the version: occ sets it; pass the version you "
                    "read as expected_version instead"
                )
            if name == self.token_field:
                raise ValidationError(f"{self.name}.{name} is occ's write token field")
            if name == OUTBOX_FIELD:
                raise ValidationError(f"{self.name}.{name} holds occ's pending change events")
            raise ValidationError(f"{self.name}.{name} is the key: it cannot be changed")
        if name in self.shard_key:
            raise ValidationError(f"{self.name}.{name} is part of the shard key: it is fixed")
        if self.fields is not None and name not in self.fields:
            raise ValidationError(
                f"{self.name} has no field {name!r}; known fields: {', '.join(self.fields)}"
            )
        if len(self._writable) < 1024:
            self._writable.add(name)

    def check_changes(self, changes: Any) -> dict[str, Any]:
        """Changes: a mapping of known, writable top-level fields to plain values."""
        if not isinstance(changes, Mapping):
            raise ValidationError(
                f"changes must be a mapping of field names to values, got {type(changes).__name__}"
            )
        out: dict[str, Any] = {}
        for name, value in changes.items():
            self._check_field(name)
            out[name] = plain(value)
            check_nested(out[name], entity=self.name, path=f"{name}.")
        return out

    def check_key(self, key: Any) -> Any:
        """A key is a literal value or a document of them (never an operator or a pattern).

        A regular expression (``re.compile``, ``bson.Regex``), code, ``MinKey``
        or ``MaxKey`` would match other documents than one: they are refused.
        """
        if key is None:
            raise ValidationError(f"{self.name}: the key cannot be None")
        if type(key) in _KEY_SCALARS:
            return key
        if isinstance(key, Mapping):
            check_nested(key, entity=self.name, path="_id.")
            for part in key.values():
                if part is not None and not isinstance(part, Mapping):
                    self.check_key(part)
            return key
        if not isinstance(key, _KEY_TYPES) or isinstance(key, Regex | Code):
            raise ValidationError(
                f"{self.name}: {key!r} ({type(key).__name__}) is not a literal key value; keys "
                "are strings, numbers, ObjectIds, UUIDs, dates, binary data or documents of them"
            )
        return key

    # -- values -------------------------------------------------------------

    def check_value(self, value: Any) -> None:
        if self.kind == "dict":
            if not isinstance(value, Mapping):
                raise ValidationError(
                    f"values of {self.name} are dicts, got {type(value).__name__}"
                )
        elif not isinstance(value, self.model):
            raise ValidationError(f"expected a {self.name} instance, got {type(value).__name__}")

    def _get(self, value: Any, name: str) -> Any:
        if self.kind == "dict":
            return value.get(name)
        return getattr(value, name, None)

    def key_of(self, value: Any) -> Any:
        return self._get(value, self.key)

    def version_of(self, value: Any) -> Any:
        return self._get(value, self.version_field)

    def to_record(self, value: Any) -> dict[str, Any]:
        """The fields of a value (without key, version and token), as plain values."""
        if self.kind == "dict":
            names: Any = [n for n in value if n not in (self.key, self.version_field)]
        else:
            assert self.fields is not None
            names = [n for n in self.fields if n not in (self.key, self.version_field)]
        record: dict[str, Any] = {}
        for name in names:
            if name not in self.shard_key:
                self._check_field(name)
            record[name] = plain(self._get(value, name))
            check_nested(record[name], entity=self.name, path=f"{name}.")
        return record

    def insert_record(self, value: Any) -> dict[str, Any]:
        """The fields to insert, shard key fields filled in (and checked)."""
        record = self.to_record(value)
        for name, fixed in self.shard_key.items():
            if name in record and record[name] is not None and not same(record[name], fixed):
                raise ValidationError(
                    f"{self.name}.{name} is {record[name]!r} but this repository writes "
                    f"{name}={fixed!r} (its shard_key)"
                )
            record[name] = fixed
        return record

    def insert(self, value: Any) -> tuple[Any, dict[str, Any], bool]:
        """The key (a new ``ObjectId`` if the value has none), the fields to insert, and
        whether the key is new."""
        record = self.insert_record(value)
        key = self.key_of(value)
        if key is None:
            return ObjectId(), record, True
        return self.check_key(key), record, False

    def is_model(self, value: Any) -> bool:
        """Whether ``value`` is an instance of the model class (not a dict)."""
        return self.kind != "dict" and isinstance(value, self.model)

    def base_fields(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of a mapping a caller read (key, version and token dropped), checked."""
        return self.check_changes({k: v for k, v in base.items() if k not in self._reserved})

    def diff(self, value: Any, base: Record | None) -> dict[str, Any]:
        """Top-level fields of ``value`` that differ from ``base`` (all if ``base`` is None)."""
        record = self.to_record(value)
        if base is None:
            return {k: v for k, v in record.items() if k not in self.shard_key}
        gone = [k for k in base if k not in record and k not in self.shard_key]
        if gone:
            raise ValidationError(
                f"{self.name}: field(s) {gone} were removed from the value; set them to None "
                "instead (occ does not unset top-level fields)"
            )
        return {
            k: v
            for k, v in record.items()
            if k not in self.shard_key and not same(base.get(k, _MISSING), v)
        }

    def with_version(self, value: Any, version: Version) -> Any:
        """``value`` carrying ``version`` (a copy for frozen dataclasses and models)."""
        if self.kind == "dict":
            value[self.version_field] = version
            return value
        try:
            setattr(value, self.version_field, version)
        except (dataclasses.FrozenInstanceError, AttributeError, TypeError, ValueError):
            if self.kind == "dataclass":
                return dataclasses.replace(value, **{self.version_field: version})
            return value.model_copy(update={self.version_field: version})
        return value

    # -- documents ----------------------------------------------------------

    def stored(self, doc: Mapping[str, Any]) -> Stored:
        """A :class:`Stored` from a raw document (token and version stripped from fields)."""
        version = doc.get(self.version_field)
        if version is None:
            version = 0
        drop = ("_id", self.version_field, self.token_field, OUTBOX_FIELD)
        record = {k: v for k, v in doc.items() if k not in drop}
        if self.fields is not None:
            record = {k: v for k, v in record.items() if k in self.fields}
        tokens = doc.get(self.token_field)
        return Stored(doc["_id"], version, record, tuple(tokens) if type(tokens) is list else ())

    def to_value(self, stored: Stored) -> Any:
        """A fresh user value for a stored document."""
        data: dict[str, Any] = {self.key: stored.key, **freeze(stored.record)}
        data[self.version_field] = stored.version
        if self.kind == "dict":
            return data
        if self.kind == "pydantic":
            return self.model.model_validate(data)
        try:
            return _build(self.model, data, self._type_hints())
        except TypeError as exc:
            raise ValidationError(
                f"the stored {self.name} {stored.key!r} does not fit the dataclass: {exc}"
            ) from exc

    def _type_hints(self) -> dict[str, Any]:
        if self._hints is None:
            try:
                self._hints = typing.get_type_hints(self.model)
            except Exception:  # unresolvable annotations: values stay plain
                self._hints = {}
        return self._hints


def _dataclass_of(hint: Any) -> Any:
    """The dataclass in ``hint`` (``D``, ``D | None``, ``Optional[D]``), else ``None``."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    if typing.get_origin(hint) in (Union, types.UnionType):
        found = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
        return found[0] if len(found) == 1 else None
    return None


def _build(cls: Any, data: Mapping[str, Any], hints: Mapping[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        item = data[f.name]
        nested = _dataclass_of(hints.get(f.name))
        if nested is not None and isinstance(item, Mapping):
            try:
                item = _build(nested, item, typing.get_type_hints(nested))
            except Exception:  # a nested class that cannot be rebuilt stays a dict
                item = dict(item)
        kwargs[f.name] = item
    return cls(**kwargs)
