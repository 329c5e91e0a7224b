"""The replica rule of the history checker: a copy never goes back, and ends at the source.

While events reach a replica (duplicated, reordered, redelivered), record
what the replica holds each time it applies one (:class:`ReplicaLog`); at
the end, :func:`check_replicas` proves that on every replica the version of
a key never went down, and that it ends at the source's version (a deleted
key: absent on both, or its tombstone at the source's last version).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from occ.testing._check import ANOMALIES, Anomaly, HistoryAnomalyError, Report

__all__ = ["ReplicaLog", "check_replicas"]

ANOMALIES.update(
    {
        "replica-regression": "a replica's version of a key went down (an older event applied)",
        "replica-divergence": "a replica does not end at the source's version of a key",
    }
)


class ReplicaLog:
    """What each replica held for each key, in the order it was observed (thread-safe)."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[Any, list[int | None]]] = defaultdict(lambda: defaultdict(list))
        self._lock = threading.Lock()

    def observe(self, replica: str, key: Any, version: int | None) -> None:
        """``replica`` holds ``version`` of ``key`` now (``None``: absent)."""
        with self._lock:
            self._seen[replica][key].append(version)

    def seen(self) -> dict[str, dict[Any, list[int | None]]]:
        with self._lock:
            return {
                name: {k: list(v) for k, v in keys.items()} for name, keys in self._seen.items()
            }


def check_replicas(
    log: ReplicaLog,
    source: Mapping[Any, int | None],
    replicas: Mapping[str, Mapping[Any, int | None]],
    *,
    raise_on_anomaly: bool = True,
) -> Report:
    """Check the replica rule.

    Args:
        log: the versions each replica held, as observed while events were applied.
        source: the source's final version of every key (``None``: deleted or absent).
        replicas: each replica's final version of every key, by replica name
            (a tombstone counts as absent).
        raise_on_anomaly: raise :class:`HistoryAnomalyError` when the rule is broken.

    Returns:
        The :class:`Report` (``keys``: keys checked, ``operations``: observations).
    """
    anomalies: list[Anomaly] = []
    observations = 0
    for name, keys in log.seen().items():
        for key, versions in keys.items():
            observations += len(versions)
            high = 0
            for version in versions:
                if version is not None and version < high:
                    message = f"{name} went from version {high} down to {version}"
                    anomalies.append(Anomaly("replica-regression", key, message))
                    break
                high = max(high, version or 0)
    for name, final in replicas.items():
        for key in set(source) | set(final):
            want, got = source.get(key), final.get(key)
            if want != got:
                message = f"{name} ends at version {got}, the source at {want}"
                anomalies.append(Anomaly("replica-divergence", key, message))
    report = Report(len(source), observations, observations, tuple(anomalies))
    if anomalies and raise_on_anomaly:
        raise HistoryAnomalyError(report)
    return report
