"""What a subscriber hands a consumer: one message, and how to settle it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Delivery"]


@dataclass
class Delivery:
    """One message from a broker: its bytes and the broker's handle to acknowledge it.

    ``seen`` is when the consumer first held it back (a gap), else ``None``.
    """

    data: bytes
    handle: Any
    seen: float | None = field(default=None, compare=False)
