"""Run many single-item flows together, batching their reads and writes (pure).

A batch write is the flow of each item — the same :func:`~occ._core.flow.write_flow`,
:func:`~occ._core.flow.insert_flow` or commutative flow a single write runs,
with its conflict classification, policy, retries and lost-reply settling —
advanced in lockstep: whenever every unfinished item waits on IO, the
writes they wait on are yielded as one :class:`~occ._core.steps.WriteMany`
per action and their reads as one :class:`~occ._core.steps.ReadMany`. A
backend performs each in a constant number of round trips, so a batch costs
a constant number of them however many items it has: one write round when
nothing conflicts; a read and a resolved write round per conflict round.

Steps that belong to one item (resolver effects, yield points) are yielded
one by one; items backing off together sleep once, for the longest delay.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from occ._core.flow import Flow
from occ._core.steps import Applied, Backoff, Read, ReadMany, Step, Write, WriteMany
from occ.errors import OCCError

__all__ = ["Outcome", "lockstep"]

#: what an item's flow ended with: its result, or the error it raised.
Outcome = Applied | BaseException

_IO = (Read, Write, Backoff)


class _Items:
    """The unfinished flows, the step each waits on, and the outcome of each finished one."""

    def __init__(self, flows: Sequence[Flow]) -> None:
        self.flows = flows
        self.waiting: dict[int, Step] = {}
        self.outcomes: list[Outcome | None] = [None] * len(flows)

    def resume(self, i: int, value: Any = None, error: BaseException | None = None) -> None:
        """Send ``value`` (or throw ``error``) into flow ``i``; note its next step or outcome.

        An :class:`~occ.OCCError` it raises is its outcome, and so is an
        ``error`` thrown into it that it lets through (the backend attributed
        it to this item's write alone); any other exception is a bug, raised.
        """
        flow = self.flows[i]
        try:
            step = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            self.outcomes[i] = stop.value
        except OCCError as exc:
            self.outcomes[i] = exc
        except Exception as exc:
            if exc is not error:
                raise
            self.outcomes[i] = exc
        else:
            self.waiting[i] = step

    def take(self, kind: type) -> list[tuple[int, Any]]:
        """Remove and return the waiting steps of ``kind``, by item."""
        found = [(i, s) for i, s in self.waiting.items() if type(s) is kind]
        for i, _ in found:
            del self.waiting[i]
        return found


def _flags(read: Read) -> tuple[bool, bool]:
    """What a batched read must honour for every read in it: locking, from the primary."""
    return read.locking, read.primary


def lockstep(flows: Sequence[Flow]) -> Generator[Step, Any, list[Outcome]]:
    """Run ``flows`` together; return each one's :class:`Applied` result or error, in order.

    The driver performs what it yields exactly as for a single flow, plus
    :class:`ReadMany` (result: one ``Stored | None`` per key) and
    :class:`WriteMany` (result: one outcome per write, an exception for a
    write that failed alone).
    """
    items = _Items(flows)
    for i in range(len(flows)):
        items.resume(i)
    while items.waiting:
        own = [
            (i, s)
            for i, s in items.waiting.items()
            if type(s) not in _IO or getattr(s, "hold", None) is not None
        ]
        if own:  # effects, points, calls, and what runs under a row lock: one by one
            for i, step in own:
                del items.waiting[i]
                try:
                    result = yield step
                except Exception as exc:  # e.g. a conflict store that failed: this item fails
                    items.resume(i, error=exc)
                else:
                    items.resume(i, result)
            continue
        sleeping = items.take(Backoff)
        if sleeping:
            yield Backoff(max(step.seconds for _, step in sleeping))
            for i, _ in sleeping:
                items.resume(i)
            continue
        writes = items.take(Write)
        if writes:
            for action in dict.fromkeys(step.action for _, step in writes):
                group = [(i, s) for i, s in writes if s.action == action]
                results = yield WriteMany(tuple(step for _, step in group))
                for (i, _), result in zip(group, results, strict=True):
                    if isinstance(result, BaseException):
                        items.resume(i, error=result)
                    else:
                        items.resume(i, result)
            continue
        reads = items.take(Read)
        for flags in dict.fromkeys(_flags(step) for _, step in reads):
            group = [(i, s) for i, s in reads if _flags(s) == flags]
            keys = tuple(step.key for _, step in group)
            found = yield ReadMany(keys, locking=flags[0], primary=flags[1])
            for (i, _), stored in zip(group, found, strict=True):
                items.resume(i, stored)
    done: list[Outcome] = []
    for outcome in items.outcomes:
        assert outcome is not None
        done.append(outcome)
    return done
