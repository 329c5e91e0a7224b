"""ETags from versions, ``If-Match`` and ``If-None-Match`` parsing (RFC 9110 §8.8.3, §13.1). Pure.

A version is sent as a strong entity-tag: version 3 is ``"3"``, a timestamp
version is its ISO 8601 form. ``If-Match`` uses the strong comparison: a weak
tag (``W/"3"``) never matches, ``*`` matches any current representation.
``If-None-Match`` uses the weak comparison: ``W/"3"`` and ``"3"`` both name
version 3.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from occ._core.model import Version
from occ.errors import ConfigurationError, OCCError, ValidationError

__all__ = [
    "MalformedPrecondition",
    "NoneMatch",
    "NotModified",
    "Precondition",
    "PreconditionFailedError",
    "PreconditionRequiredError",
    "etag",
    "parse_if_match",
    "parse_if_none_match",
    "parse_version",
]

_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(?:,|$)')
_EMPTY = re.compile(r"[ \t]*,")
_DIGITS = re.compile(r"0|[1-9][0-9]{0,17}")


class MalformedPrecondition(ValidationError):
    """A precondition header that does not follow the RFC 9110 syntax (HTTP 400)."""


class PreconditionFailedError(OCCError):
    """``If-Match`` matches no current version (HTTP 412).

    Attributes:
        current_version: the version stored now, ``None`` if there is none.
    """

    def __init__(self, current_version: Version | None) -> None:
        self.current_version = current_version
        super().__init__(
            "If-Match matches no current representation"
            if current_version is None
            else f"If-Match does not match the current ETag {etag(current_version)}"
        )


class PreconditionRequiredError(OCCError):
    """A route that requires ``If-Match`` got a request without it (HTTP 428)."""

    def __init__(self) -> None:
        super().__init__("this resource needs If-Match: send the ETag you read, or *")


class NotModified(OCCError):
    """``If-None-Match`` names the current version: the client's copy is current (HTTP 304).

    Not a failure: raised by :meth:`NoneMatch.check` to end the request early.

    Attributes:
        version: the version stored now (sent back as the ``ETag``).
    """

    def __init__(self, version: Version) -> None:
        self.version = version
        super().__init__(f"not modified: the client holds version {version!r}")


def etag(version: Version) -> str:
    """The strong ETag of a version: ``"3"``, or ``"2024-05-01T12:00:00.000001"``."""
    if isinstance(version, _dt.datetime):
        return f'"{version.isoformat()}"'
    if type(version) is not int:
        raise ValidationError(f"a version is an int or a datetime, got {version!r}")
    return f'"{version}"'


def parse_version(opaque: str, version_type: str = "int") -> Version | None:
    """The version an ETag's opaque part names, or ``None`` if it names none."""
    if version_type == "int":
        return int(opaque) if _DIGITS.fullmatch(opaque) else None
    try:
        return _dt.datetime.fromisoformat(opaque)
    except ValueError:
        return None


@dataclass(frozen=True)
class Precondition:
    """What an ``If-Match`` header asks of a conditional write.

    Attributes:
        present: the request carried ``If-Match``.
        any: it was ``*`` (matches any current representation).
        versions: the versions named by its strong entity-tags; weak tags and
            tags that name no version are left out: they can never match.
    """

    present: bool = False
    any: bool = False
    versions: tuple[Version, ...] = ()

    @property
    def expected_version(self) -> Version | None:
        """The version to expect when the header names exactly one, else ``None``."""
        if self.present and not self.any and len(self.versions) == 1:
            return self.versions[0]
        return None

    def resolve(self, current: Version | None) -> Version:
        """The version to expect, given the stored one (for ``*``, lists, weak tags).

        The write must still be conditional on the returned version: a writer
        that got in after ``current`` was read makes it fail.

        Raises:
            PreconditionFailedError: nothing is stored, or no tag matches ``current``.
        """
        if current is None:
            raise PreconditionFailedError(None)
        if not self.present or self.any or current in self.versions:
            return current
        raise PreconditionFailedError(current)

    def expected(self, read_current: Callable[[], Version | None]) -> Version:
        """:attr:`expected_version`, or :meth:`resolve` of what ``read_current`` returns.

        ``read_current`` is called only when the header names no single version
        (``*``, a list, weak tags). In an ``async`` endpoint use :meth:`aexpected`.

        Raises:
            PreconditionFailedError: see :meth:`resolve`.
            ConfigurationError: ``read_current`` is asynchronous.
        """
        if inspect.iscoroutinefunction(read_current):
            raise _async_reader(read_current)
        single = self.expected_version
        if single is not None:
            return single
        current: Any = read_current()
        if inspect.isawaitable(current):
            if inspect.iscoroutine(current):
                current.close()  # never awaited: close it instead of leaking a warning
            raise _async_reader(read_current)
        return self.resolve(current)

    async def aexpected(
        self, read_current: Callable[[], Version | Awaitable[Version | None] | None]
    ) -> Version:
        """:meth:`expected` for async endpoints: ``read_current`` may be sync or async.

        Raises:
            PreconditionFailedError: see :meth:`resolve`.
        """
        single = self.expected_version
        if single is not None:
            return single
        current = read_current()
        if inspect.isawaitable(current):
            current = await current
        return self.resolve(current)


def _async_reader(read_current: Any) -> ConfigurationError:
    return ConfigurationError(
        f"Precondition.expected() got an async function ({read_current!r}); "
        "in an async endpoint use: await pre.aexpected(read_current)"
    )


@dataclass(frozen=True)
class NoneMatch:
    """What an ``If-None-Match`` header asks of a read (RFC 9110 §13.1.2).

    Attributes:
        present: the request carried ``If-None-Match``.
        any: it was ``*`` (matches any current representation).
        versions: the versions its entity-tags name, weak or strong (weak comparison).
    """

    present: bool = False
    any: bool = False
    versions: tuple[Version, ...] = ()

    def matches(self, current: Version | None) -> bool:
        """True when the client already holds ``current`` (``None``: nothing is stored)."""
        if not self.present or current is None:
            return False
        return self.any or current in self.versions

    def check(self, current: Version | None) -> None:
        """End a read with 304 Not Modified when the client already holds ``current``.

        Raises:
            NotModified: :meth:`matches` is true; the handlers of
                :func:`~occ.http.add_exception_handlers` answer 304 with the ``ETag``.
        """
        if current is not None and self.matches(current):
            raise NotModified(current)


def parse_if_match(value: str, version_type: str = "int") -> Precondition:
    """Parse an ``If-Match`` field value (several fields joined by commas).

    Raises:
        MalformedPrecondition: not ``*`` nor a list of quoted entity-tags.
    """
    if value.strip(" \t") == "*":
        return Precondition(present=True, any=True)
    return Precondition(present=True, versions=_versions(value, version_type, "If-Match", False))


def parse_if_none_match(value: str, version_type: str = "int") -> NoneMatch:
    """Parse an ``If-None-Match`` field value; weak tags count (weak comparison).

    Raises:
        MalformedPrecondition: not ``*`` nor a list of quoted entity-tags.
    """
    if value.strip(" \t") == "*":
        return NoneMatch(present=True, any=True)
    versions = _versions(value, version_type, "If-None-Match", True)
    return NoneMatch(present=True, versions=versions)


def _versions(value: str, version_type: str, header: str, weak_ok: bool) -> tuple[Version, ...]:
    """The distinct versions a list of entity-tags names (weak ones only if ``weak_ok``)."""
    versions: list[Version] = []
    position, tags = 0, 0
    while position < len(value):
        empty = _EMPTY.match(value, position)
        if empty is not None:  # empty list elements are allowed
            position = empty.end()
            continue
        found = _TAG.match(value, position)
        if found is None or found.end() == position:
            raise MalformedPrecondition(
                f'{header} must be * or a list of quoted ETags such as "3", got {value!r}'
            )
        tags += 1
        weak, opaque = found.group(1), found.group(2)
        version = None if weak and not weak_ok else parse_version(opaque, version_type)
        if version is not None and version not in versions:
            versions.append(version)
        position = found.end()
    if tags == 0:
        raise MalformedPrecondition(f"{header} is empty: send * or the ETag you read")
    return tuple(versions)
