"""ORM flushes and repositories of every model shape on a Galera node.

The suite's own tests re-run with ``backend`` bound to the first node:
joined-table inheritance (several tables per write), ``onupdate`` columns and
row switches, through flushes of opted-in classes (versioned UPDATEs and
DELETEs in the session's transaction, certified at its commit) and
repositories, sync and async.
"""

from __future__ import annotations

from tests.cluster.reuse import rerun
from tests.orm import test_inheritance, test_onupdate, test_row_switch
from tests.orm.conftest import modes as modes
from tests.orm.conftest import tdb as tdb

rerun(globals(), test_inheritance, test_onupdate, test_row_switch)
