"""``occ.orm`` sessions on a Galera node: the adoption guide's flush tests, re-run.

With ``backend`` bound to the first node: stale flushes refused, policies
applied in the flush, ``version_id_col`` models beside repositories, SQLModel
— each flush a versioned UPDATE or DELETE in the session's transaction,
certified by Galera at its commit.
"""

from __future__ import annotations

from tests.adopt import test_orm
from tests.cluster.reuse import rerun

rerun(globals(), test_orm)
