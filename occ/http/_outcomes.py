"""What an HTTP client is told about a write's outcome: status and headers. Pure.

Every write result says what happened (:attr:`occ.Versioned.outcome`); over
HTTP it travels in the ``Occ-Outcome`` header, and a write that the entity's
policy threw away (``discarded``) is never a success: it answers 409 Conflict
with the stored value and its ``ETag``.
"""

from __future__ import annotations

from typing import Any

from occ._core.model import Versioned
from occ.http._etag import etag

__all__ = ["ALERTED_HEADER", "OUTCOME_HEADER", "outcome_headers", "outcome_status"]

#: the response header that carries :attr:`occ.Versioned.outcome`.
OUTCOME_HEADER = "Occ-Outcome"
#: present (``true``) when the conflict met on the way was persisted for review.
ALERTED_HEADER = "Occ-Alerted"


def outcome_status(result: Versioned[Any], success: int = 200) -> int:
    """The status to answer a write with: ``success``, or 409 when it was discarded.

    ``written``, ``retried``, ``commutative``, ``merged``, ``overwritten`` and
    ``unchanged`` all stored (or kept) what the client sent, or a merge of it:
    ``success``. ``discarded``: the client's change is not stored, 409.
    """
    return 409 if result.outcome == "discarded" else success


def outcome_headers(result: Versioned[Any]) -> dict[str, str]:
    """``ETag`` (the stored version), ``Occ-Outcome`` and, if alerted, ``Occ-Alerted``."""
    headers = {"ETag": etag(result.version), OUTCOME_HEADER: result.outcome}
    if result.alerted:
        headers[ALERTED_HEADER] = "true"
    return headers
