"""The SQL contract, caller's transactions, tombstones and conflict stores on a Galera node.

The suite's own tests, re-run with ``backend`` bound to the first node of the
session's three-node cluster (sync and async drivers): the single-statement
writes, MariaDB's UPDATE-then-read of ``update()``, deletes with their
tombstone, writes joining a caller's transaction (and the deadlock that
aborts one), and policies that archive or alert to a SQL conflict store all
run through Galera's certification at commit.
"""

from __future__ import annotations

from tests.cluster.reuse import rerun
from tests.resolvers import test_sql_policies
from tests.sql import test_aba, test_aborted_transactions, test_repository, test_transactions
from tests.sql.drivers import make_repo as make_repo

rerun(
    globals(),
    test_repository,
    test_transactions,
    test_aba,
    test_aborted_transactions,
    test_sql_policies,
    skip=(
        "test_postgres_serialization_failure_aborts_and_commit_is_refused",
        "test_postgres_duplicate_insert_in_a_session_refuses_the_commit",
    ),
)
