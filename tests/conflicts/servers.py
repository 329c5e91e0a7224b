"""Local servers the notification tests start: an HTTP endpoint and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hook:
    """What the webhook endpoint received, and how many requests it should fail first."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    status: int = 503
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def webhook_endpoint(fail_first: int = 0, status: int = 503) -> Iterator[Hook]:
    """An HTTP server on 127.0.0.1 that records JSON POSTs (failing the first few)."""
    hook = Hook(fail_first=fail_first, status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with hook.lock:
                hook.requests += 1
                failing = hook.requests <= hook.fail_first
                if not failing:
                    hook.bodies.append(json.loads(body))
            self.send_response(hook.status if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """The messages the SMTP server received."""

    port: int
    messages: list[Any] = field(default_factory=list)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it receives."""
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message = message_from_bytes(envelope.content, policy=policy.default)
            box.messages.append((envelope.rcpt_tos, message))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, ready_timeout=10)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
