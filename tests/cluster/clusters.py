"""The private clusters of a test session: a Galera cluster, a PostgreSQL primary and standby.

Each comes from the environment when ``.ci/run`` started it (``OCC_GALERA_URLS``,
``OCC_PG_STANDBY``) or else is started here, by the same script, for this
session only, and stopped at its end. Starting one takes a few seconds (about
10 s for Galera on this machine), so only the session's first test that needs
it pays. A cluster that cannot start skips its tests locally and fails them
with ``CI`` set (:func:`tests.backends.unavailable`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from scripts._servers import ClusterError
from tests.backends import unavailable

__all__ = ["galera_urls", "pg_standby_urls"]


@contextmanager
def galera_urls() -> Iterator[list[str]]:
    """The SQL URLs (no database) of the three Galera nodes."""
    given = os.environ.get("OCC_GALERA_URLS")
    if given:
        yield given.split()
        return
    from scripts.galera import start_cluster

    try:
        cluster = start_cluster(timeout=180)
    except ClusterError as exc:
        unavailable(f"galera: {exc}")
    try:
        yield cluster.urls
    finally:
        cluster.stop()


@contextmanager
def pg_standby_urls() -> Iterator[tuple[str, str, str]]:
    """The primary's and the standby's SQL URLs, and the pair's directory (delay control)."""
    given = os.environ.get("OCC_PG_STANDBY")
    if given:
        from scripts.pg_standby import load

        pair = load(given)
        yield pair.primary_url, pair.standby_url, given
        return
    from scripts.pg_standby import start_pair

    try:
        pair = start_pair(timeout=120)
    except ClusterError as exc:
        unavailable(f"pg standby: {exc}")
    try:
        yield pair.primary_url, pair.standby_url, str(pair.directory)
    finally:
        pair.stop()
