"""Migrations on a Galera node: the batched version-column backfill, re-run.

With ``backend`` bound to the first node: a DDL statement (replicated in
total order), then one committed transaction per batch while other writers
proceed, idempotent when run again.
"""

from __future__ import annotations

from tests.adopt import test_migrations
from tests.cluster.reuse import rerun

rerun(globals(), test_migrations)
