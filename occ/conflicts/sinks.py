"""Alert sinks: where :class:`~occ.resolvers.Alert` sends a resolved conflict.

A sink is any callable of a :class:`~occ.conflicts.ConflictEvent` (sync, or a
coroutine function). These three cover logs, application callbacks and
metrics; each runs after the conflict is persisted, bounded by the alert's
timeout, and cannot fail the write.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from occ.conflicts._records import ConflictEvent

__all__ = ["CallbackSink", "LoggingSink", "MetricsSink"]


class LoggingSink:
    """Log each conflict as one line with structured fields.

    The fields (``occ_entity``, ``occ_key``, ``occ_outcome``, ``occ_kind``,
    ``occ_action``, ``occ_expected_version``, ``occ_actual_version``,
    ``occ_attempt``, ``occ_changed_fields``, ``occ_conflict_id``) are set on
    the log record (``extra``), for JSON formatters and log shippers.

    Args:
        logger: a logger or its name (default ``occ.conflicts``).
        level: the level to log at (default ``WARNING``).
    """

    def __init__(
        self, logger: logging.Logger | str = "occ.conflicts", level: int = logging.WARNING
    ):
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level

    def __repr__(self) -> str:
        return f"LoggingSink({self.logger.name!r})"

    def __call__(self, event: ConflictEvent) -> None:
        fields = event.fields()
        self.logger.log(
            self.level,
            "conflict on %s %r: %s (%s)",
            fields["occ_entity"],
            event.conflict.key,
            event.outcome,
            event.conflict.describe(),
            extra=fields,
        )


class CallbackSink:
    """Call ``fn(event)`` for each conflict; ``fn`` may be a coroutine function.

    Args:
        fn: the callback, called with a :class:`~occ.conflicts.ConflictEvent`.
    """

    def __init__(self, fn: Callable[[ConflictEvent], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"CallbackSink needs a callable, got {fn!r}")
        self.fn = fn
        #: tells drivers to await it on the event loop rather than in a thread.
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an async __call__ method
        )

    def __repr__(self) -> str:
        return f"CallbackSink({self.fn!r})"

    def __call__(self, event: ConflictEvent) -> Any:
        return self.fn(event)


class MetricsSink:
    """Count conflicts with an OpenTelemetry counter, by entity and outcome.

    Needs ``opentelemetry-api`` (``pip install opentelemetry-api``); without an
    SDK configured, the API's no-op meter makes this free.

    Args:
        meter: an OpenTelemetry ``Meter`` (default: ``metrics.get_meter("occ")``).
        name: the counter's name (default ``occ.conflicts``).
    """

    def __init__(self, meter: Any = None, *, name: str = "occ.conflicts") -> None:
        try:
            from opentelemetry import metrics
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "MetricsSink needs the OpenTelemetry API: pip install opentelemetry-api"
            ) from exc
        self.meter = meter if meter is not None else metrics.get_meter("occ")
        self.counter = self.meter.create_counter(
            name, unit="{conflict}", description="Write conflicts met, by entity and outcome"
        )

    def __repr__(self) -> str:
        return "MetricsSink()"

    def __call__(self, event: ConflictEvent) -> None:
        self.counter.add(
            1,
            {
                "occ.entity": event.conflict.entity,
                "occ.outcome": event.outcome,
                "occ.kind": event.conflict.kind,
            },
        )
