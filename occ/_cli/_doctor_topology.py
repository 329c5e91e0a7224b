"""``occ doctor``: what a cluster or a replica changes for optimistic locking.

MariaDB Galera (multi-primary): causal reads (``wsrep_sync_wait``), the
server's own retry of autocommitted statements (``wsrep_retry_autocommit``),
certification failures. PostgreSQL: whether the server is a standby (it
cannot take occ's writes) or a primary with standbys streaming from it.
"""

from __future__ import annotations

import sqlalchemy as sa

from occ._cli._checks import Check, failed, passed, warned

__all__ = ["topology_checks"]

#: above this share of local commits lost to certification, writers meet too often.
_CERT_WARN = 0.05


def _variables(conn: sa.Connection, pattern: str, *, status: bool = False) -> dict[str, str]:
    kind = "GLOBAL STATUS" if status else "GLOBAL VARIABLES"
    rows = conn.execute(sa.text(f"SHOW {kind} LIKE :p"), {"p": pattern})
    return {str(name).lower(): str(value) for name, value in rows}


def _cluster(status: dict[str, str]) -> Check:
    name = "galera cluster"
    size = status.get("wsrep_cluster_size", "?")
    state = status.get("wsrep_local_state_comment", "?")
    component = status.get("wsrep_cluster_status", "?")
    found = f"{size} nodes, this one {state}, component {component}"
    if component != "Primary" or state != "Synced":
        return failed(
            name,
            found,
            "this node is not a synced member of the primary component: writes through it "
            "fail or wait; connect to a Synced node",
        )
    return passed(
        name,
        found,
        "multi-primary: two writers on two nodes both match WHERE version = v locally; the "
        "loser fails certification at COMMIT (error 1213), which occ reports as a conflict",
    )


def _sync_wait(variables: dict[str, str]) -> Check:
    name = "wsrep_sync_wait"
    value = variables.get("wsrep_sync_wait", "0")
    if int(value or 0) & 1:
        return passed(name, value, "reads first apply every write certified before them")
    return warned(
        name,
        value,
        "a read on this node may not show a write committed through another node yet. "
        "occ's writes stay safe (the check is in the write; certification orders them) and a "
        "stale read costs a conflict and a retry. For reads that must see the latest version, "
        "bind the repository to an engine whose sessions SET wsrep_sync_wait = 1 and pass a "
        "plain one as replica=",
    )


def _retry_autocommit(variables: dict[str, str]) -> Check:
    name = "wsrep_retry_autocommit"
    value = variables.get("wsrep_retry_autocommit", "1")
    if value == "0":
        advice = (
            "a single-statement write that fails certification reaches occ as error 1213: "
            "occ re-reads and resolves it by policy"
        )
    else:
        advice = (
            f"the server re-runs an autocommitted write that failed certification up to {value} "
            "time(s): occ's write is conditional, so the re-run applies at most once, or "
            "matches no row and occ sees a conflict"
        )
    return passed(name, value, advice)


def _certification(status: dict[str, str]) -> Check:
    name = "certification failures"
    failures = int(status.get("wsrep_local_cert_failures", "0") or 0)
    aborts = int(status.get("wsrep_local_bf_aborts", "0") or 0)
    commits = int(status.get("wsrep_local_commits", "0") or 0)
    found = f"{failures} certification failures, {aborts} aborted by replication, {commits} commits"
    if commits and (failures + aborts) / commits > _CERT_WARN:
        return warned(
            name,
            found,
            "writers often meet on the same rows through different nodes: each is a conflict "
            "and a retry. Send the writes of hot rows through one node, or let a counter "
            "field commute (Merge(..., fast_path=True))",
        )
    return passed(name, found, "each is a conflict occ retries or resolves by policy")


def _galera(conn: sa.Connection) -> list[Check]:
    variables = _variables(conn, "wsrep%")
    if variables.get("wsrep_on", "OFF").upper() != "ON":
        return []
    status = _variables(conn, "wsrep%", status=True)
    return [
        _cluster(status),
        _sync_wait(variables),
        _retry_autocommit(variables),
        _certification(status),
    ]


def _postgres(conn: sa.Connection) -> list[Check]:
    name = "replication role"
    if conn.execute(sa.text("SELECT pg_is_in_recovery()")).scalar_one():
        return [
            failed(
                name,
                "a standby (read-only, in recovery)",
                "occ's conditional writes need the primary: bind the repository to the "
                "primary and pass an engine on this standby as replica=",
            )
        ]
    standbys = conn.execute(
        sa.text("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
    ).scalar_one()
    if standbys:
        return [
            passed(
                name,
                f"a primary with {standbys} streaming standby(s)",
                "reads from a standby may be old: pass it as replica=, and occ sends every "
                "read that must see the latest version here",
            )
        ]
    return []


def topology_checks(conn: sa.Connection) -> list[Check]:
    """Checks of the cluster or replication ``conn``'s server is part of (none if alone)."""
    name = conn.dialect.name
    if name == "mysql" and getattr(conn.dialect, "is_mariadb", False):
        return _galera(conn)
    if name == "postgresql":
        return _postgres(conn)
    return []
