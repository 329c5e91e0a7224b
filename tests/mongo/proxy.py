"""The MongoDB tests' view of the shared fault proxy (:mod:`tests.faults.proxy`).

Kept so the unknown-outcome tests read as before: ``Proxy((host, port))``,
``.uri``, ``arm("findAndModify", mode)`` by command name, ``.cut``. New
tests use :class:`tests.faults.Proxy` (or the ``mongo_proxy`` fixture) directly.
"""

from __future__ import annotations

from tests.faults.proxy import Mode, command
from tests.faults.proxy import Proxy as _Proxy

__all__ = ["Proxy"]


class Proxy(_Proxy):
    """The shared proxy, armed by MongoDB command name."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__(*upstream, protocol="mongodb")

    @property
    def uri(self) -> str:
        """A URI of the proxy: one server, retryable writes off."""
        return self.url("mongodb://127.0.0.1/")

    def arm(
        self, pattern: bytes | str, mode: Mode, *, count: int = 1, seconds: float = 0.0
    ) -> None:
        """Act on the next command named ``pattern`` (or containing the bytes ``pattern``)."""
        if isinstance(pattern, str):
            pattern = command(pattern)
        super().arm(pattern, mode, count=count, seconds=seconds)

    @property
    def cut(self) -> int:
        """Connections cut: replies dropped plus requests dropped."""
        return self.dropped_replies + self.dropped_requests
