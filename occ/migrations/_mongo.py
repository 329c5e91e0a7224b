"""Give MongoDB documents without a version the first one, in batches (resumable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occ.errors import ConfigurationError, ValidationError
from occ.migrations._common import check_batch_size

__all__ = ["backfill_mongo_versions"]


def _check_field(field: Any) -> str:
    if (
        not isinstance(field, str)
        or not field
        or field.startswith("$")
        or "." in field
        or "\0" in field
        or field == "_id"
    ):
        raise ValidationError(
            f"the version field must be a plain top-level field name, got {field!r}"
        )
    return field


def backfill_mongo_versions(
    collection: Any,
    *,
    field: str = "version",
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Set ``field`` to 1 on every document where it is missing or null, a batch at a time.

    Each batch reads up to ``batch_size`` ``_id`` values in ``_id`` order and
    updates them with one unordered ``bulk_write`` whose filters still require
    the field to be missing: a document versioned meanwhile by the application is
    never reset. Documents that have a version are never touched, so a second
    run does nothing and an interrupted run resumes. The walk uses ``_id >
    last``, then sweeps once more from the start (``$gt`` only compares
    ``_id`` values of one BSON type, and documents may be inserted behind it).

    Args:
        collection: a PyMongo ``Collection`` with an acknowledged write concern.
        field: the version field.
        batch_size: documents per batch.
        on_batch: called with the number of documents of each batch (progress).

    Returns:
        How many documents got a version.

    Raises:
        ConfigurationError: the collection's write concern is unacknowledged (``w=0``).
        ValidationError: a bad field name or batch size; nothing is written.
    """
    try:
        from pymongo import UpdateOne
    except ImportError as exc:  # pragma: no cover - exercised without the extra only
        raise ImportError(
            "backfill_mongo_versions needs PyMongo: pip install 'occ[mongo]'"
        ) from exc

    field = _check_field(field)
    batch_size = check_batch_size(batch_size)
    concern = getattr(collection, "write_concern", None)
    if concern is not None and not concern.acknowledged:
        raise ConfigurationError(
            "the collection's write concern is unacknowledged (w=0): the backfill could not "
            "confirm its writes; use w=1 or more"
        )
    missing: dict[str, Any] = {field: None}  # matches a missing field and a null one
    total = 0
    last: Any = None
    while True:
        query = dict(missing) if last is None else {**missing, "_id": {"$gt": last}}
        cursor = collection.find(query, {"_id": 1}).sort("_id", 1).limit(batch_size)
        ids = [doc["_id"] for doc in cursor]
        if not ids:
            if last is None:  # a sweep from the start found nothing left
                return total
            last = None
            continue
        # One unordered bulk command per batch; each update still requires the field missing.
        result = collection.bulk_write(
            [UpdateOne({"_id": _id, **missing}, {"$set": {field: 1}}) for _id in ids],
            ordered=False,
        )
        total += result.modified_count
        if on_batch is not None:
            on_batch(result.modified_count)
        last = ids[-1]
