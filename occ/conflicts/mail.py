"""``EmailSink``: e-mail each conflict (or a digest of a burst) through SMTP (standard library)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from occ.conflicts._courier import Batch, Courier, retrying
from occ.conflicts._messages import subject, text
from occ.conflicts._records import ConflictEvent

__all__ = ["EmailSink"]


class EmailSink:
    """Send conflicts by e-mail: plain-text messages, rate limited into digests.

    Calling the sink only queues the event: a background thread talks to the
    mail server, so a slow or failing server never delays or fails a write.

    Args:
        host: the SMTP server.
        sender: the ``From`` address.
        to: the recipients.
        port: its port (default 587 with ``starttls``, 465 with ``tls``, else 25).
        review_url: where the review app is mounted; each message links to
            ``{review_url}/c/{id}``.
        starttls: upgrade the connection with STARTTLS (default True).
        tls: connect over TLS from the start (SMTPS) instead.
        username: log in with this user (and ``password``).
        password: the password for ``username``.
        every: at most one message per this many seconds; conflicts arriving in
            between are sent as one digest.
        max_items: the most conflicts one message lists (the rest are counted).
        retries: further tries after a connection error or a temporary (4xx) refusal.
        backoff: seconds before the first retry, doubling each time.
        timeout: seconds a connection may take.
        subject_prefix: put before every subject.
    """

    def __init__(
        self,
        host: str,
        *,
        sender: str,
        to: Sequence[str],
        port: int | None = None,
        review_url: str | None = None,
        starttls: bool = True,
        tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        every: float = 300.0,
        max_items: int = 50,
        retries: int = 3,
        backoff: float = 2.0,
        timeout: float = 15.0,
        subject_prefix: str = "[occ]",
    ) -> None:
        if isinstance(to, str) or not to:
            raise ValueError("to= is a list of one or more addresses")
        self.host = host
        self.port = port if port is not None else (465 if tls else 587 if starttls else 25)
        self.sender = sender
        self.to = list(to)
        self.review_url = review_url
        self.starttls = starttls and not tls
        self.tls = tls
        self.username = username
        self.password = password
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.subject_prefix = subject_prefix
        self.courier = Courier(
            self._deliver, every=every, max_items=max_items, name="occ-email-sink"
        )

    def __repr__(self) -> str:
        return f"EmailSink({self.host!r}, to={self.to!r})"

    def __call__(self, event: ConflictEvent) -> None:
        self.courier.put(event)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued conflict was mailed (or given up on); whether it was."""
        return self.courier.flush(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Mail what is queued, then stop the sending thread."""
        self.courier.close(timeout)

    def message(self, batch: Batch) -> EmailMessage:
        """The e-mail about ``batch``."""
        mail = EmailMessage()
        mail["Subject"] = subject(batch, self.subject_prefix)
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        mail.set_content(text(batch, self.review_url) + "\n")
        return mail

    def _deliver(self, batch: Batch) -> None:
        mail = self.message(batch)
        retrying(
            lambda: self._send(mail), retries=self.retries, backoff=self.backoff, retryable=_retry
        )

    def _send(self, mail: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            smtp.send_message(mail)


def _retry(exc: Exception) -> float | None:
    """Retry connection trouble and temporary refusals (4xx); not permanent ones (5xx)."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(code, int):
        return 0.0 if 400 <= code < 500 else None
    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
        return 0.0
    return None
