"""The brokers of the sync tests: the shared ones on this machine, and private instances.

The shared Redis (127.0.0.1:6379), RabbitMQ (127.0.0.1:5672, guest/guest) and
NATS JetStream (127.0.0.1:4222) are never stopped: every test uses names of
its own (streams, queues, subjects). A test that needs a broker to fail or
restart starts a private instance on a free port (``redis-server``,
``nats-server``) and stops it itself. Override the shared ones with
``OCC_REDIS_URL``, ``OCC_AMQP_URL``, ``OCC_NATS_URL``. Without ``CI`` a broker
that is down skips its tests; with ``CI`` it fails them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

from tests.backends import unavailable

REDIS_URL = os.environ.get("OCC_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("OCC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("OCC_NATS_URL", "nats://127.0.0.1:4222")


def reachable(url: str, default_port: int) -> bool:
    rest = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = rest.partition(":")
    try:
        with socket.create_connection((host, int(port or default_port)), timeout=2):
            return True
    except OSError:
        return False


def require(url: str, port: int, what: str) -> str:
    if not reachable(url, port):
        unavailable(f"{what} is not reachable at {url}")
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the broker exited with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the broker did not listen on {port} within {seconds}s")


class Private:
    """A private broker process on a free port that a test can stop and start again."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"occ-{kind}-")
        self.proc: subprocess.Popen[bytes] | None = None
        binary = {"redis": "redis-server", "nats": "nats-server"}[kind]
        if shutil.which(binary) is None:
            unavailable(f"{binary} is not installed")
        self.binary = binary

    @property
    def url(self) -> str:
        scheme = "redis" if self.kind == "redis" else "nats"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.kind == "redis":
            args = [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ]
        else:
            args = [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.dir]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, 10.0)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@contextlib.contextmanager
def private(kind: str) -> Iterator[Private]:
    broker = Private(kind)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(broker.dir, ignore_errors=True)
