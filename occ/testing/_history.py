"""A history of concurrent writes: what each writer read, wrote, and how it ended.

Writers (or the runners of :mod:`occ.testing`) record one :class:`Operation`
per write attempt they finished; :func:`~occ.testing.check_history` then
proves the history is free of lost updates. Histories export to JSON lines,
one object per line, for other checkers.
"""

from __future__ import annotations

import datetime as _dt
import io
import itertools
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from occ._core.model import Version

__all__ = ["OUTCOMES", "History", "HistoryError", "Operation", "Outcome", "State"]

Outcome = Literal["committed", "conflict", "not-found", "unknown"]
#: every outcome an operation may have.
OUTCOMES: tuple[str, ...] = ("committed", "conflict", "not-found", "unknown")


class HistoryError(ValueError):
    """A history the checker cannot trust: out of order, incomplete or malformed.

    Attributes:
        record: the offending operation or state (or ``None`` for the whole history).
    """

    def __init__(self, message: str, record: Any = None) -> None:
        self.record = record
        super().__init__(message)


@dataclass(frozen=True)
class State:
    """A key's stored state: its version and (some of) its fields."""

    version: Version
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One finished write attempt of one writer on one key.

    Attributes:
        seq: position in the history (strictly increasing).
        writer: who wrote (a thread, task or client id).
        key: the key written.
        read_version: the version the writer read (and expected), if it read one.
        written_version: the version the write stored (committed), or claimed to.
        token: a unique write token, so the write can be recognised later.
        outcome: ``committed``, ``conflict``, ``not-found`` or ``unknown``.
        values: the fields the write stored (or tried to).
        deltas: the increments it applied to counter fields.
        start: logical time the operation began.
        end: logical time it finished (``start <= end``).
    """

    seq: int
    writer: Any
    key: Any
    read_version: Version | None
    written_version: Version | None
    token: str
    outcome: str
    values: Mapping[str, Any] = field(default_factory=dict)
    deltas: Mapping[str, Any] = field(default_factory=dict)
    start: int = 0
    end: int = 0

    def describe(self) -> str:
        """One line naming the operation, for error messages."""
        return (
            f"op #{self.seq} (writer {self.writer!r}, key {self.key!r}, token {self.token!r}: "
            f"read v{self.read_version!r} -> wrote v{self.written_version!r}, {self.outcome})"
        )

    def to_json(self) -> dict[str, Any]:
        """This operation as a JSON-ready dict."""
        return {
            "type": "op",
            "seq": self.seq,
            "writer": self.writer,
            "key": self.key,
            "read_version": _dump_version(self.read_version),
            "written_version": _dump_version(self.written_version),
            "token": self.token,
            "outcome": self.outcome,
            "values": dict(self.values),
            "deltas": dict(self.deltas),
            "start": self.start,
            "end": self.end,
        }


class History:
    """A thread-safe log of operations, and of the state each key started in.

    Example::

        history = History()
        history.initial("acct-1", 1, {"balance": 0})
        start = history.clock()
        ...  # read version 1, write version 2
        history.record("w1", "acct-1", read_version=1, written_version=2,
                       outcome="committed", token="w1-0", values={"balance": 5},
                       deltas={"balance": 5}, start=start)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ticks = itertools.count()
        self._ops: list[Operation] = []
        self._initial: dict[Any, State] = {}

    # -- recording ----------------------------------------------------------

    def initial(self, key: Any, version: Version, values: Mapping[str, Any] | None = None) -> None:
        """Record the state ``key`` had before any writer ran."""
        with self._lock:
            self._initial[_hashable(key)] = State(version, dict(values or {}))

    def clock(self) -> int:
        """A logical timestamp: take one when an operation begins, pass it as ``start``."""
        with self._lock:
            return next(self._ticks)

    def record(
        self,
        writer: Any,
        key: Any,
        *,
        read_version: Version | None,
        written_version: Version | None,
        outcome: str,
        token: str,
        values: Mapping[str, Any] | None = None,
        deltas: Mapping[str, Any] | None = None,
        start: int | None = None,
    ) -> Operation:
        """Append a finished operation; its ``end`` is now.

        Raises:
            HistoryError: ``outcome`` is not one of :data:`OUTCOMES`.
        """
        if outcome not in OUTCOMES:
            raise HistoryError(
                f"outcome {outcome!r} of writer {writer!r} on key {key!r} (token {token!r}) "
                f"is not one of {', '.join(OUTCOMES)}"
            )
        with self._lock:
            end = next(self._ticks)
            op = Operation(
                seq=len(self._ops),
                writer=writer,
                key=_hashable(key),
                read_version=read_version,
                written_version=written_version,
                token=token,
                outcome=outcome,
                values=dict(values or {}),
                deltas=dict(deltas or {}),
                start=end if start is None else start,
                end=end,
            )
            self._ops.append(op)
            return op

    # -- reading ------------------------------------------------------------

    @property
    def operations(self) -> tuple[Operation, ...]:
        """Every recorded operation, in recording order."""
        with self._lock:
            return tuple(self._ops)

    @property
    def initial_states(self) -> dict[Any, State]:
        """The state each key started in."""
        with self._lock:
            return dict(self._initial)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    # -- JSON lines ---------------------------------------------------------

    def to_jsonl(self, target: str | os.PathLike[str] | TextIO | None = None) -> str:
        """Export as JSON lines: the initial states, then one line per operation.

        Args:
            target: a path or text file to write to; ``None`` only returns the text.

        Returns:
            The exported text. Versions that are datetimes are ISO strings;
            values JSON cannot hold are written as their ``str``.
        """
        lines = [
            json.dumps(
                {
                    "type": "initial",
                    "key": key,
                    "version": _dump_version(state.version),
                    "values": dict(state.values),
                },
                default=str,
            )
            for key, state in self.initial_states.items()
        ]
        lines += [json.dumps(op.to_json(), default=str) for op in self.operations]
        text = "".join(line + "\n" for line in lines)
        if isinstance(target, io.TextIOBase) or hasattr(target, "write"):
            target.write(text)  # type: ignore[union-attr]
        elif target is not None:
            with open(target, "w", encoding="utf-8") as fp:
                fp.write(text)
        return text

    @classmethod
    def from_jsonl(cls, source: str | Iterable[str]) -> History:
        """Load a history exported by :meth:`to_jsonl` (text or an iterable of lines).

        Records keep their ``seq``, ``start`` and ``end`` as written, so a
        shuffled file is loaded as is and refused by the checker.

        Raises:
            HistoryError: a line is not a JSON object of a known type.
        """
        lines = source.splitlines() if isinstance(source, str) else source
        history = cls()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                kind = data["type"]
                if kind == "initial":
                    version = _load_version(data["version"])
                    if version is None:
                        raise HistoryError(f"line {number}: an initial state needs a version", data)
                    history._initial[_hashable(data["key"])] = State(
                        version, dict(data.get("values") or {})
                    )
                elif kind == "op":
                    history._ops.append(
                        Operation(
                            seq=int(data["seq"]),
                            writer=data["writer"],
                            key=_hashable(data["key"]),
                            read_version=_load_version(data["read_version"]),
                            written_version=_load_version(data["written_version"]),
                            token=str(data["token"]),
                            outcome=str(data["outcome"]),
                            values=dict(data.get("values") or {}),
                            deltas=dict(data.get("deltas") or {}),
                            start=int(data.get("start", 0)),
                            end=int(data.get("end", 0)),
                        )
                    )
                else:
                    raise HistoryError(f"line {number}: unknown record type {kind!r}", data)
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, HistoryError):
                    raise
                raise HistoryError(f"line {number} is not a history record: {exc}", line) from exc
        return history


def _hashable(key: Any) -> Any:
    """JSON turns tuple keys into lists; keys must be hashable again."""
    if isinstance(key, list):
        return tuple(_hashable(part) for part in key)
    return key


def _dump_version(version: Version | None) -> Any:
    if isinstance(version, _dt.datetime):
        return version.isoformat()
    return version


def _load_version(version: Any) -> Version | None:
    if isinstance(version, str):
        return _dt.datetime.fromisoformat(version)
    if version is None or type(version) is int:
        return version
    raise HistoryError(f"version {version!r} is neither an int nor an ISO datetime", version)
