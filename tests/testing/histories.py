"""Synthetic histories for the checker: what really applied, and what the writers recorded.

A :class:`World` is the truth about one key: the sequence of *applications*
(each adds one to the version and its delta to ``count``, and stamps its
operation's token) and the operations the writers recorded, some of which
never applied (conflicts, unknown outcomes that lost the race or never
reached the server). :func:`worlds` draws correct ones; a fault is a
change to the truth that the records do not show — a write applied twice,
acknowledged writes lost, versions nobody wrote — and :meth:`World.history`
turns truth and records into the :class:`~occ.testing.History` and final
state the checker sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import strategies as st

from occ.testing import History, State

LOG = 3  # a token log keeps the latest three tokens
START_TOKEN = "init"


@dataclass(frozen=True)
class Op:
    """One recorded operation.

    Attributes:
        index: its number (its token is ``t<index>``).
        outcome: ``committed``, ``unknown`` or ``conflict``.
        delta: what it adds (or would add) to ``count``.
        read: the version it read (set when the truth is played).
        stamps: whether it records the values it wrote (unknown outcomes may not).
        says_written: whether an unknown outcome records the version it would write.
    """

    index: int
    outcome: str
    delta: int
    read: int = 0
    stamps: bool = True
    says_written: bool = False

    @property
    def token(self) -> str:
        return f"t{self.index}"


@dataclass
class World:
    """The truth about one key and what was recorded about it.

    Attributes:
        start: the initial version.
        applied: indexes of the operations applied, in order (``None``: a write
            nobody recorded, adding nothing).
        ops: every recorded operation.
        log: whether writes keep a log of recent tokens (else one token field).
        order: the order operations are recorded in (a permutation of ``ops``).
    """

    start: int
    applied: list[int | None]
    ops: list[Op]
    log: bool = False
    order: list[int] = field(default_factory=list)
    kept: int | None = None

    def play(self) -> tuple[State, dict[int, dict[str, Any]], dict[int, int]]:
        """The final state, the values each operation wrote first, and the version it read.

        With ``kept`` set, the final state is the one after that many applications
        (the later ones were acknowledged, then lost).
        """
        version, count, tokens = self.start, 0, [START_TOKEN]
        wrote: dict[int, dict[str, Any]] = {}
        read: dict[int, int] = {}
        final = State(version, self._values(count, tokens))
        for at, index in enumerate(self.applied):
            if index is not None:
                op = self.ops[index]
                count += op.delta
                tokens = [*tokens, op.token][-LOG:]
                if index not in wrote:
                    read[index] = version
                    wrote[index] = self._values(count, tokens)
            version += 1
            if self.kept is None or at < self.kept:
                final = State(version, self._values(count, tokens))
        return final, wrote, read

    def _values(self, count: int, tokens: list[str]) -> dict[str, Any]:
        return {
            "count": count,
            "tokens" if self.log else "token": tokens if self.log else tokens[-1],
        }

    def history(self) -> tuple[History, State]:
        """What the checker gets: the recorded history and the final state."""
        final, wrote, read = self.play()
        h = History()
        h.initial("k", self.start, self._values(0, [START_TOKEN]))
        for index in self.order or range(len(self.ops)):
            op = self.ops[index]
            version = read.get(index, op.read)
            values = wrote.get(index, {})
            if op.outcome == "committed":
                written: int | None = version + 1
            else:
                written = version + 1 if op.says_written else None
                if op.outcome == "conflict" or not op.stamps:
                    values = {}  # a failed write records no values; an unknown one may not
            h.record(
                f"w{index}",
                "k",
                read_version=version,
                written_version=written,
                outcome=op.outcome,
                token=op.token,
                values=values,
                deltas={"count": op.delta} if op.outcome != "conflict" else {},
            )
        return h, final

    # -- the truth changed behind the records --------------------------------

    def applied_unknown(self) -> list[int]:
        """Positions in ``applied`` of unknown outcomes with no rival for their version."""
        _, _, read = self.play()
        rivals = {op.read for op in self.ops if op.outcome == "unknown" and op.index not in read}
        return [
            at
            for at, index in enumerate(self.applied)
            if index is not None
            and self.ops[index].outcome == "unknown"
            and read[index] not in rivals
        ]

    def applied_twice(self, at: int) -> World:
        """The application at ``at`` happens again right after itself."""
        applied = [*self.applied[: at + 1], self.applied[at], *self.applied[at + 1 :]]
        return self._shifted(replace(self), applied, at + 1, 1)

    def lost_from(self, at: int) -> World:
        """Everything from application ``at`` on vanished from the final state."""
        return replace(self, kept=at)

    def nobody_wrote(self, at: int, steps: int) -> World:
        """``steps`` writes nobody recorded happen before application ``at``."""
        applied = [*self.applied[:at], *([None] * steps), *self.applied[at:]]
        return self._shifted(replace(self), applied, at, steps)

    @staticmethod
    def _shifted(world: World, applied: list[int | None], at: int, steps: int) -> World:
        """Records that read a version at or after the change see it ``steps`` higher."""
        cut = world.start + at
        world.applied = applied
        world.ops = [
            replace(op, read=op.read + steps)
            if op.read >= cut and op.outcome != "committed"
            else op
            for op in world.ops
        ]
        return world


@st.composite
def worlds(draw: st.DrawFn, *, min_writes: int = 0, rivals: bool = True) -> World:
    """A correct world: every recorded write applied at most once, nothing lost.

    With ``rivals``, unknown outcomes may also lose to another unknown outcome
    (then only the tokens, if any, tell which of the two applied).
    """
    start = draw(st.integers(1, 5))
    n = draw(st.integers(min_writes, 12))
    deltas = st.integers(1, 4) | st.integers(-3, -1)
    ops: list[Op] = []
    applied: list[int | None] = []
    losers: list[tuple[str, int]] = []  # (outcome, position in applied it lost to)
    for at in range(n):
        outcome = draw(st.sampled_from(["committed", "committed", "unknown"]))
        ops.append(
            Op(
                len(ops),
                outcome,
                draw(deltas),
                stamps=draw(st.booleans()),
                says_written=draw(st.booleans()),
            )
        )
        applied.append(ops[-1].index)
        for _ in range(draw(st.integers(0, 2 if outcome == "committed" else 1))):
            # a write that lost the race for this version: a conflict, or an unknown outcome
            rival = outcome == "committed" or rivals
            loser = draw(st.sampled_from(["conflict", "unknown"] if rival else ["conflict"]))
            losers.append((loser, at))
    version = [start + at for at in range(n)]
    for outcome, at in losers:
        ops.append(Op(len(ops), outcome, draw(deltas), read=version[at], stamps=False))
    for _ in range(draw(st.integers(0, 2))):  # never reached the server, or read the end
        ops.append(Op(len(ops), "unknown", draw(deltas), read=start + n, stamps=False))
    world = World(start, applied, ops, log=draw(st.booleans()))
    world.order = draw(st.permutations(range(len(ops))))
    return world
