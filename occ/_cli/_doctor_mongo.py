"""``occ doctor`` on MongoDB: topology, write and read concern, read preference, retries,
transactions.

Everything it writes goes to one scratch collection, ``occ_doctor_<random>``
in the URI's database (else ``occ_doctor``), dropped at the end.
"""

from __future__ import annotations

import uuid
from typing import Any

from occ._cli._checks import Check, failed, passed, warned
from occ._cli._common import first_line

__all__ = ["mongo_checks"]


def _topology(hello: dict[str, Any]) -> tuple[str, Check]:
    name = "topology"
    if hello.get("msg") == "isdbgrid":
        return "sharded", passed(
            name,
            "sharded cluster (mongos)",
            "pass shard_key= to the repository so every filter targets one shard",
        )
    if hello.get("setName"):
        return "replica set", passed(name, f"replica set {hello['setName']!r}")
    return "standalone", warned(
        name,
        "standalone server",
        "single-document conditional writes are atomic here, so occ works; transactions, "
        "retryable writes and majority write concern need a replica set (even of one node)",
    )


def _server(client: Any, hello: dict[str, Any]) -> Check:
    try:
        info = client.server_info()
    except Exception as exc:  # some wire-protocol servers lack buildInfo
        return warned("server version", f"unknown ({first_line(exc)})", "")
    version = info.get("version")
    if not version:
        wire = hello.get("maxWireVersion")
        return warned(
            "server version",
            f"not reported (wire protocol version {wire})",
            "a MongoDB-compatible server: occ relies on find_one_and_update with a version "
            "filter, checked below",
        )
    version = str(version)
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts and parts < (4, 4):
        return warned("server version", f"MongoDB {version}", "MongoDB < 4.4 is end-of-life")
    return passed("server version", f"MongoDB {version}")


def _write_concern(client: Any, topology: str) -> Check:
    name = "write concern"
    wc = client.write_concern
    doc = dict(wc.document)
    shown = ", ".join(f"{k}={v}" for k, v in doc.items()) or "server default (acknowledged)"
    if not wc.acknowledged:
        return failed(
            name,
            shown,
            "w=0 cannot confirm a write: occ refuses it; remove w=0 from the URI",
        )
    if topology != "standalone" and doc.get("w") not in ("majority", None):
        return warned(
            name,
            shown,
            "a version check means what you think only with w=majority: a write the primary "
            "alone acknowledged can be rolled back by a failover, and its version then stored "
            "again by another writer with other values. Use w=majority (URI or "
            "Repository(write_concern=WriteConcern(w='majority')))",
        )
    if topology != "standalone" and doc.get("w") is None:
        return passed(name, shown, "the server's default (w=majority since MongoDB 5.0)")
    return passed(name, shown)


def _read_concern(client: Any, topology: str) -> Check:
    name = "read concern"
    level = client.read_concern.level
    shown = level or "server default (local)"
    if topology == "standalone" or level in ("majority", "linearizable", "snapshot"):
        return passed(name, shown)
    return warned(
        name,
        shown,
        "get()/find() may return a version a failover later rolls back: a write based on it "
        "conflicts (nothing is lost), but the value shown may vanish. For reads that must "
        "survive a failover use Repository(read_concern=ReadConcern('majority')); occ reads "
        "the primary's latest whenever it classifies a conflict",
    )


def _read_preference(client: Any) -> Check:
    name = "read preference"
    mode = str(client.read_preference.mongos_mode)
    if mode == "primary":
        return passed(name, mode)
    return warned(
        name,
        mode,
        "occ's repositories ignore the client's read preference and read the primary unless "
        "given Repository(read_preference=...); a version read from a secondary may be old, "
        "so a write based on it conflicts (never lost) — occ re-reads the primary then",
    )


def _retryable_writes(client: Any, topology: str, hello: dict[str, Any]) -> Check:
    name = "retryable writes"
    enabled = bool(client.options.retry_writes)
    if not enabled:
        return warned(
            name,
            "disabled (retryWrites=false)",
            "a network error leaves a write's outcome unknown; occ's write token recognises "
            "it on the next read, but retryWrites=true avoids the question",
        )
    if topology == "standalone" or "logicalSessionTimeoutMinutes" not in hello:
        return warned(
            name,
            "enabled, but not supported by a standalone server",
            "PyMongo cannot retry here; occ's write token still recognises an unknown outcome",
        )
    return passed(name, "enabled and supported")


def _transactions(client: Any, coll: Any, topology: str) -> Check:
    name = "transactions"
    if topology == "standalone":
        return warned(
            name,
            "not available on a standalone server",
            "occ never needs one for a single write; Repository.with_session needs a replica set",
        )
    try:
        with client.start_session() as session:
            session.with_transaction(lambda s: coll.insert_one({"_id": "txn"}, session=s))
    except Exception as exc:  # the server refused
        return warned(name, f"refused: {first_line(exc)}", "multi-document work cannot be atomic")
    return passed(name, "a transaction committed")


def _conditional_write(coll: Any) -> Check:
    from pymongo import ReturnDocument

    name = "conditional write"
    coll.insert_one({"_id": 1, "version": 1})
    guard = {"_id": 1, "version": {"$eq": 1}}
    fresh = coll.find_one_and_update(
        guard, {"$inc": {"version": 1}}, return_document=ReturnDocument.AFTER
    )
    stale = coll.find_one_and_update(guard, {"$inc": {"version": 1}})
    found = f"fresh write -> version {fresh and fresh.get('version')}, stale write -> {stale}"
    if fresh is None or fresh.get("version") != 2 or stale is not None:
        return failed(
            name,
            found,
            "find_one_and_update with a version filter must apply once and then miss: "
            "this server cannot guard writes",
        )
    return passed(name, "find_one_and_update applies once, then a stale one misses")


def mongo_checks(client: Any) -> list[Check]:
    """Run every MongoDB check; the scratch collection is dropped whatever happens."""
    hello: dict[str, Any] = client.admin.command("hello")
    topology, topology_check = _topology(hello)
    checks = [
        _server(client, hello),
        topology_check,
        _write_concern(client, topology),
        _read_concern(client, topology),
        _read_preference(client),
        _retryable_writes(client, topology, hello),
    ]
    db = client.get_default_database(default="occ_doctor")
    coll = db[f"occ_doctor_{uuid.uuid4().hex[:8]}"]
    try:
        checks.append(_conditional_write(coll))
        checks.append(_transactions(client, coll, topology))
    finally:
        db.drop_collection(coll.name)
    return checks
