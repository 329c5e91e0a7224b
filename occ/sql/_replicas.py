"""Read replicas: which engine may serve a repository's reads (checks only; pure).

A repository given ``replica=`` sends ``get``, ``find`` and ``modify``'s first
read there, and everything else to its bind (see ``Read.primary``). The
replica must speak the same SQL — statements are compiled once per dialect —
and serves only a repository on an engine: in a caller's transaction every
read belongs to that transaction.
"""

from __future__ import annotations

from typing import Any

from occ.errors import ConfigurationError

__all__ = ["check_replica"]


def _sync(engine: Any) -> Any:
    return getattr(engine, "sync_engine", engine)


def check_replica(engine: Any, replica: Any, *, joined: bool) -> None:
    """Refuse a replica that cannot serve the reads of a repository on ``engine``.

    Raises:
        ConfigurationError: the repository is bound to a caller's transaction,
            or the replica speaks another dialect.
    """
    if joined:
        raise ConfigurationError(
            "replica= serves a repository on an engine; in a caller's Connection or "
            "Session every read belongs to that transaction: bind the engine instead"
        )
    ours, theirs = _sync(engine).dialect, _sync(replica).dialect
    if (ours.name, ours.driver) != (theirs.name, theirs.driver):
        raise ConfigurationError(
            f"the replica speaks {theirs.name}+{theirs.driver}, the primary "
            f"{ours.name}+{ours.driver}: statements are compiled once for both, so use "
            "the same dialect and driver"
        )
