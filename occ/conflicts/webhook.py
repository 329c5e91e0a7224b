"""``WebhookSink``: POST each conflict (or a digest of a burst) as JSON to a URL.

The body suits chat incoming webhooks (Slack, Mattermost, Rocket.Chat read
``text``) and machines (``conflicts`` lists each one with its page's URL)::

    {"text": "[occ] conflict on account 1\\naccount 1: version conflict, ...",
     "conflicts": [{"id": "...", "entity": "account", "key": 1, "kind": "version",
                    "outcome": "discarded", "changed": ["owner"], "url": "https://..."}],
     "more": 0}
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from occ.conflicts._courier import Batch, Courier, retrying
from occ.conflicts._messages import items, subject, text
from occ.conflicts._records import ConflictEvent

__all__ = ["WebhookSink"]


class WebhookSink:
    """Send conflicts to a webhook: JSON POSTs with retries, rate limited into digests.

    Calling the sink only queues the event: a background thread posts it, so
    a slow or failing endpoint never delays or fails a write (the conflict is
    in the conflict store already; put the store first in ``Alert``).

    Args:
        url: the ``http://`` or ``https://`` address to POST to.
        review_url: where the review app is mounted; each message links to
            ``{review_url}/c/{id}``.
        every: at most one message per this many seconds; conflicts arriving in
            between are sent as one digest.
        max_items: the most conflicts one message lists (the rest are counted).
        retries: further tries after a connection error, a 5xx or a 429.
        backoff: seconds before the first retry, doubling each time.
        timeout: seconds each request may take.
        headers: extra headers (e.g. ``Authorization``).
    """

    def __init__(
        self,
        url: str,
        *,
        review_url: str | None = None,
        every: float = 60.0,
        max_items: int = 20,
        retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"a webhook URL starts with http:// or https://, got {url!r}")
        self.url = url
        self.review_url = review_url
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.courier = Courier(
            self._deliver, every=every, max_items=max_items, name="occ-webhook-sink"
        )

    def __repr__(self) -> str:
        return f"WebhookSink({self.url.split('?')[0]!r})"

    def __call__(self, event: ConflictEvent) -> None:
        self.courier.put(event)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued conflict was posted (or given up on); whether it was."""
        return self.courier.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Post what is queued, then stop the sending thread."""
        self.courier.close(timeout)

    def payload(self, batch: Batch) -> dict[str, Any]:
        """The JSON body of the message about ``batch``."""
        return {
            "text": f"{subject(batch)}\n{text(batch, self.review_url)}",
            "conflicts": items(batch, self.review_url),
            "more": batch.more,
        }

    def _deliver(self, batch: Batch) -> None:
        body = json.dumps(self.payload(batch)).encode()

        def post() -> None:
            request = urllib.request.Request(self.url, body, self.headers, method="POST")
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()

        retrying(post, retries=self.retries, backoff=self.backoff, retryable=_retry_after)


def _retry_after(exc: Exception) -> float | None:
    """Seconds to wait before retrying after ``exc``; ``None`` for a final answer (a 4xx)."""
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 429 or exc.code >= 500:
            after = exc.headers.get("Retry-After", "") if exc.headers else ""
            return min(float(after), 30.0) if after.isdigit() else 0.0
        return None
    if isinstance(exc, OSError):  # refused, reset, timed out, DNS
        return 0.0
    return None
