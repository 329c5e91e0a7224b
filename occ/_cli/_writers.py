"""What ``occ demo``'s writers do to a key: occ's conditional write, and the naive one.

occ's writer reads (``get``), thinks, and writes conditionally (``update``
with the version it read): a conflict goes to the policy. The naive writer
reads, thinks, and overwrites with what it computed. Each is a flow of steps
(:mod:`occ._cli._steps`), so the same code runs under
:func:`~occ.testing.hammer` and :func:`~occ.testing.ahammer`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from occ import Conflict, ConflictError
from occ._cli._steps import Flow, Pause, adrive, drive, ticking
from occ.testing import AsyncWorkload, State, Workload, Written

__all__ = ["MAX_ATTEMPTS", "Side", "naive_side", "occ_side"]

#: app-level attempts per increment under ``--policy raise`` before giving up.
MAX_ATTEMPTS = 1000
COUNTERS = ("hits",)


@dataclass(frozen=True)
class Side:
    """One side of the demo: its repository, what its writers do, what they counted.

    Attributes:
        repo: the repository that reads (and, for occ, writes) the side's table.
        write: ``write(key, token)``: the flow of one increment.
        events: ``attempts``, ``retries``, ``gave_up``, ``alerts``: one entry each,
            appended by the writers (``list.append`` is atomic across threads).
    """

    repo: Any
    write: Callable[[Any, str], Flow[Written]]
    events: list[str]

    def workload(self, tick: Callable[[], None]) -> Workload:
        """The side for :func:`~occ.testing.hammer`; ``tick()`` after each increment."""
        return Workload(
            write=lambda key, token: drive(ticking(self.write(key, token), tick)),
            read=lambda key: drive(_read(self.repo, key)),
            counters=COUNTERS,
        )

    def async_workload(self, tick: Callable[[], None]) -> AsyncWorkload:
        """The side for :func:`~occ.testing.ahammer`; ``tick()`` after each increment."""
        return AsyncWorkload(
            write=lambda key, token: adrive(ticking(self.write(key, token), tick)),
            read=lambda key: adrive(_read(self.repo, key)),
            counters=COUNTERS,
        )


def _read(repo: Any, key: Any) -> Flow[State | None]:
    found = yield partial(repo.find, key)
    if found is None:
        return None
    return State(found.version, {"hits": found.value["hits"], "token": found.value["token"]})


def _written(read: Any, written: Any, hits: int, token: str) -> Written:
    return Written(read, written, {"hits": hits, "token": token}, {"hits": 1})


def _occ_increment(
    repo: Any, events: list[str], think: float, key: Any, token: str
) -> Flow[Written]:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        snap = yield partial(repo.get, key)
        yield Pause(think)
        changes = {"hits": snap.value["hits"] + 1, "token": token}
        events.append("attempts")
        update = partial(repo.update, key, changes, expected_version=snap.version, base=snap.base)
        try:
            result = yield update
        except ConflictError:  # the policy raised: read again and retry
            if attempt == MAX_ATTEMPTS:
                events.append("gave_up")
                raise
            events.append("retries")
            continue
        if result.value["token"] == token:
            return _written(result.version - 1, result.version, result.value["hits"], token)
        # The policy kept theirs: the increment ends as the conflict it met.
        mine: Mapping[str, Any] = {**(snap.base or {}), **changes}
        args = (snap.base, mine, changes, result.base, snap.version, result.version, attempt)
        raise ConflictError(Conflict(repo.name, key, "update", "version", *args))
    raise AssertionError("unreachable: the last attempt returns or raises")


def occ_side(repo: Any, events: list[str], think: float) -> Side:
    """occ's writers on ``repo``; ``events`` may also receive the policy's alerts."""
    return Side(repo, partial(_occ_increment, repo, events, think), events)


def _naive_increment(
    repo: Any, overwrite: Any, events: list[str], think: float, key: Any, token: str
) -> Flow[Written]:
    snap = yield partial(repo.get, key)
    yield Pause(think)
    hits, version = snap.value["hits"] + 1, snap.version + 1
    events.append("attempts")
    yield partial(overwrite, key, {"hits": hits, "token": token, "version": version})
    return _written(snap.version, version, hits, token)


def naive_side(repo: Any, overwrite: Callable[..., Any], think: float) -> Side:
    """The naive writer: reads with ``repo``, writes with ``overwrite(key, values)``."""
    events: list[str] = []
    return Side(repo, partial(_naive_increment, repo, overwrite, events, think), events)
