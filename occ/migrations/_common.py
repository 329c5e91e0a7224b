"""Checks shared by the SQL and MongoDB backfills (no driver imported)."""

from __future__ import annotations

from typing import Any

from occ.errors import ValidationError

__all__ = ["check_batch_size"]


def check_batch_size(batch_size: Any) -> int:
    """Validate a batch size: an int >= 1."""
    if type(batch_size) is not int or batch_size < 1:
        raise ValidationError(f"batch_size must be an int >= 1, got {batch_size!r}")
    return batch_size
