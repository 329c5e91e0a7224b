"""``occ.sync.AsyncConsumer``: delivers a broker's events to a replica (or any callable).

Each event is acknowledged only after its handler returned: a consumer
killed between applying and acknowledging gets the event again, and the
replica answers ``duplicate``. A handler that fails is retried with
exponential backoff; after ``attempts`` failures, or at once for an invalid
event, the event goes to the dead-letter destination with the reason. A
replica's ``gap`` (a changes-only event whose previous version has not been
applied yet) is held back, unacknowledged, and tried again after each batch
until ``gap_timeout``, then dead-lettered.

With ``batched=True`` each fetched batch goes to the replica's
``apply_many`` (one read and one multi-row upsert) and is acknowledged with
one call; a batch that fails as a whole (an invalid event among valid ones, a
replica that is down) is then applied event by event, with the retries and
dead letters above.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from occ._modes import acall, asleep
from occ.errors import ConfigurationError
from occ.sync._delivery import Delivery
from occ.sync._event import Event, EventError, decode

__all__ = ["AsyncConsumer"]

log = logging.getLogger("occ.sync.consumer")


class AsyncConsumer:
    """A consumer loop: fetch, apply, acknowledge; retry, hold gaps, dead-letter.

    Args:
        subscriber: a broker subscriber (``AsyncRedisSubscriber``,
            ``NatsSubscriber``, ``RabbitSubscriber``, or your own with
            ``fetch(count, timeout)``, ``ack(deliveries)``, ``dead_letter(delivery, reason)``).
        handler: a replica (its ``apply`` is called) or a callable of an
            :class:`~occ.sync.Event` (sync or async); it returns an outcome or ``None``.
        batch: events fetched at a time.
        attempts: tries of a failing handler before the event is dead-lettered.
        backoff: first and longest sleep (seconds) between tries.
        gap_timeout: seconds an event held back for a gap waits before it is dead-lettered.
        batched: apply each batch with the replica's ``apply_many`` and acknowledge it
            with one call (many times faster); an event followed in its batch by a
            newer one of its key is then never applied: it counts as ``stale``.
    """

    def __init__(
        self,
        subscriber: Any,
        handler: Any,
        *,
        batch: int = 100,
        attempts: int = 5,
        backoff: tuple[float, float] = (0.05, 2.0),
        gap_timeout: float = 30.0,
        batched: bool = False,
    ) -> None:
        apply = getattr(handler, "apply", handler)
        if not callable(apply):
            raise ConfigurationError(f"a handler is a replica or a callable, got {handler!r}")
        self.subscriber = subscriber
        self.handle: Callable[[Event], Any] = apply
        #: the replica's batch apply, when batches are applied at once.
        self.handle_many: Callable[[list[Event]], Any] | None = None
        if batched:
            self.handle_many = getattr(handler, "apply_many", None)
            if not callable(self.handle_many):
                raise ConfigurationError(f"batched=True needs a replica's apply_many: {handler!r}")
        self.batch = batch
        self.attempts = attempts
        self.backoff = backoff
        self.gap_timeout = gap_timeout
        #: outcomes of the events handled (``applied``, ``stale``, ``duplicate``, ``dead``...).
        self.counts: Counter[str] = Counter()
        self._held: list[tuple[Delivery, Event]] = []

    async def run_once(self, timeout: float = 0.5) -> int:
        """Fetch one batch and settle it; the number of events acknowledged or dead-lettered."""
        deliveries = await self.subscriber.fetch(self.batch, timeout)
        settled = 0
        if self.handle_many is not None and len(deliveries) > 1:
            settled += await self._many(deliveries)
        else:
            for delivery in deliveries:
                settled += await self._one(delivery)
        settled += await self._retry_held()
        return settled

    async def run(self, stop: Any = None, *, seconds: float | None = None) -> int:
        """Consume until ``stop.is_set()`` or for ``seconds``; events settled.

        Events held back for a gap are left unacknowledged: the broker
        delivers them again to the next consumer.
        """
        deadline = None if seconds is None else time.monotonic() + seconds
        total = 0
        delay = self.backoff[0]
        while (stop is None or not stop.is_set()) and (
            deadline is None or time.monotonic() < deadline
        ):
            try:
                total += await self.run_once()
                delay = self.backoff[0]
            except Exception as exc:  # the broker went away: back off and reconnect
                log.warning("occ consumer: %s; retrying in %.1fs", exc, delay)
                await asleep(delay)
                delay = min(self.backoff[1], delay * 2)
        return total

    async def _many(self, deliveries: list[Delivery]) -> int:
        """Apply a batch at once and acknowledge it with one call; on failure, one by one."""
        assert self.handle_many is not None
        settled = 0
        valid: list[tuple[Delivery, Event]] = []
        for delivery in deliveries:
            try:
                valid.append((delivery, decode(delivery.data)))
            except EventError as exc:
                settled += await self._dead(delivery, f"invalid event: {exc.reason}")
        if not valid:
            return settled
        try:
            outcomes = await acall(
                self.handle_many, [event for _, event in valid], "the consumer's handler"
            )
        except Exception:  # an invalid event among them, or the replica failed: one by one
            for delivery, _ in valid:
                settled += await self._one(delivery)
            return settled
        done = []
        for (delivery, event), outcome in zip(valid, outcomes, strict=True):
            if outcome == "gap":
                delivery.seen = time.monotonic()
                self._held.append((delivery, event))
                continue
            self.counts[outcome] += 1
            done.append(delivery)
        if done:
            await self.subscriber.ack(done)
        return settled + len(done)

    async def _one(self, delivery: Delivery) -> int:
        try:
            event = decode(delivery.data)
        except EventError as exc:
            return await self._dead(delivery, f"invalid event: {exc.reason}")
        outcome = await self._apply(delivery, event)
        if outcome is None:
            return 1
        if outcome == "gap":
            delivery.seen = time.monotonic()
            self._held.append((delivery, event))
            return 0
        await self.subscriber.ack([delivery])
        self.counts[outcome] += 1
        return 1

    async def _apply(self, delivery: Delivery, event: Event) -> str | None:
        """The handler's outcome; ``None`` when the event was dead-lettered."""
        delay = self.backoff[0]
        for attempt in range(1, self.attempts + 1):
            try:
                outcome = await acall(self.handle, event, "the consumer's handler")
                return outcome if isinstance(outcome, str) else "handled"
            except EventError as exc:
                await self._dead(delivery, f"rejected: {exc.reason}")
                return None
            except Exception as exc:
                if attempt == self.attempts:
                    reason = f"failed {attempt} times: {type(exc).__name__}: {exc}"
                    await self._dead(delivery, reason)
                    return None
                self.counts["retried"] += 1
                await asleep(delay)
                delay = min(self.backoff[1], delay * 2)
        return None  # pragma: no cover - the loop always returns

    async def _retry_held(self) -> int:
        held, self._held = self._held, []
        settled = 0
        for delivery, event in sorted(held, key=lambda item: item[1].order):
            outcome = await self._apply(delivery, event)
            if outcome is None:
                settled += 1
            elif outcome != "gap":
                await self.subscriber.ack([delivery])
                self.counts[outcome] += 1
                settled += 1
            elif time.monotonic() - (delivery.seen or 0.0) > self.gap_timeout:
                reason = f"gap: version {event.previous} of {event.key!r} never arrived"
                settled += await self._dead(delivery, reason)
            else:
                self._held.append((delivery, event))
        return settled

    async def _dead(self, delivery: Delivery, reason: str) -> int:
        log.warning("occ consumer: dead-lettering an event: %s", reason)
        await self.subscriber.dead_letter(delivery, reason)
        self.counts["dead"] += 1
        return 1
