# Generated from occ/sync/_async/push.py by scripts/unasync.py: edit that file.
"""``occ.sync.PushClient``: push an event to a service's push route, with retries.

For the critical path (call the other service after the write, and retry):
the write's event goes straight to the other service's replica. A lost reply
or a 5xx is retried with exponential backoff; the endpoint is idempotent (a
retried event answers ``duplicate``), so retrying is always safe. Pushing
does not replace the outbox: a push that gave up is still published by the
relay.
"""

from __future__ import annotations

from typing import Any

import httpx

from occ._modes import sleep
from occ.sync._event import Event, EventError, PushError, encode

__all__ = ["PushClient"]

_RETRY = {429, 500, 502, 503, 504}


class PushClient:
    """Pushes events to a replica's ``push_route``.

    Args:
        url: the route's full URL (``http://orders:8000/occ/events``).
        attempts: tries per event.
        backoff: first and longest sleep (seconds) between tries.
        timeout: seconds per request.
        client: an ``httpx.Client`` of your own (tests, transports).
    """

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 5,
        backoff: tuple[float, float] = (0.1, 2.0),
        timeout: float = 5.0,
        client: Any = None,
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff = backoff
        self.client = client if client is not None else httpx.Client(timeout=timeout)

    def push(self, event: Event) -> str:
        """Push ``event``; the replica's outcome (``applied``, ``stale``, ``duplicate``).

        Raises:
            EventError: the replica rejected the event (422): retrying cannot help.
            PushError: no answer or a 5xx after every try, or a ``gap`` (409).
        """
        body = encode(event)
        delay = self.backoff[0]
        last = "no answer"
        status = None
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.post(
                    self.url, content=body, headers={"content-type": "application/json"}
                )
            except httpx.TransportError as exc:
                last, status = f"{type(exc).__name__}: {exc}", None
            else:
                status = response.status_code
                if status == 200:
                    return str(response.json()["outcome"])
                detail = _detail(response)
                if status == 422:
                    raise EventError(detail, event)
                if status not in _RETRY:
                    raise PushError(f"{self.url} answered {status}: {detail}", status)
                last = f"{status}: {detail}"
            if attempt < self.attempts:
                sleep(delay)
                delay = min(self.backoff[1], delay * 2)
        raise PushError(f"push to {self.url} failed {self.attempts} times: {last}", status)

    def close(self) -> None:
        self.client.close()


def _detail(response: Any) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return str(response.text)[:200]
