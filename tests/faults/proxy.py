"""A TCP proxy that injects faults between a client and a real database server.

It listens on ``127.0.0.1`` only, forwards to one upstream server and, when
armed, acts on the next client request that contains a pattern:

- ``drop_reply``: forward the request, let the server execute it, swallow the
  server's answer and cut the connection — a write applied whose reply never
  arrives (an unknown outcome for the client);
- ``drop_request``: cut the connection before the request reaches the server;
- ``delay``: hold the request for ``seconds`` before forwarding it.

It frames MySQL, PostgreSQL and MongoDB messages (:mod:`tests.faults._wire`,
detected from the first bytes of each connection), so a pattern is matched
within one whole request. Everything is bounded: at most
``max_connections`` proxied connections at once (more are refused), every
socket read times out after ``timeout`` seconds of silence (the connection
is then cut), every thread is a daemon, and :meth:`Proxy.close` (or leaving
the ``with`` block) cuts every connection and joins every thread.

Example::

    with Proxy.for_url(url) as proxy:
        engine = sa.create_engine(proxy.url(url))
        proxy.arm(b"UPDATE account", "drop_reply")
        ...  # the UPDATE applies; the client gets a connection error
        assert proxy.dropped_replies == 1
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa

from tests.faults._wire import Closed, Reader, Wire, detect_client, detect_server, wire_for

__all__ = ["MODES", "Fault", "Mode", "Proxy", "command"]

Mode = Literal["drop_reply", "drop_request", "delay"]
#: what an armed proxy can do to a request.
MODES: tuple[str, ...] = ("drop_reply", "drop_request", "delay")
_DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "postgresql": 5432, "mongodb": 27017}
_JOIN = 5.0


def command(name: str) -> bytes:
    """The pattern of a MongoDB command by name (``insert``, ``update``, ``findAndModify``).

    A command document starts with its name as a string element (type
    ``0x02``); matching that, not the bare word, keeps ``update`` from
    matching the ``update`` field of a ``findAndModify``.
    """
    return b"\x02" + name.encode() + b"\x00"


@dataclass(frozen=True)
class Fault:
    """One fault the proxy injected.

    Attributes:
        mode: what it did (``drop_reply``, ``drop_request``, ``delay``).
        pattern: the pattern that matched.
        connection: the proxied connection's number (from 1, in accept order).
        match: for a random rule, which matching request it was (from 1); else 0.
    """

    mode: str
    pattern: bytes
    connection: int
    match: int = 0


@dataclass
class _Rule:
    pattern: bytes
    mode: str = "drop_reply"
    count: int = 1
    seconds: float = 0.0
    rng: random.Random | None = None
    probability: float = 1.0
    modes: tuple[str, ...] = ()
    limit: int = 0
    matches: int = 0
    fired: int = 0


@dataclass
class _Link:
    """One proxied connection: the client's socket, the server's, and how they are framed."""

    number: int
    client: socket.socket
    server: socket.socket
    wire: Wire | None
    ready: threading.Event = field(default_factory=threading.Event)
    claim: str = ""
    swallowing: bool = False
    fired_in_request: bool = False
    closed: bool = False
    threads: list[threading.Thread] = field(default_factory=list)

    def cut(self) -> None:
        self.closed = True
        self.ready.set()
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class Proxy:
    """A fault-injecting TCP proxy on ``127.0.0.1`` in front of one server.

    Args:
        upstream_host: the server's host.
        upstream_port: the server's port.
        protocol: ``auto`` (detected per connection), ``mysql``, ``postgresql``,
            ``mongodb`` or ``raw`` (no framing: a pattern must arrive in one read).
        max_connections: proxied connections open at once; more are refused.
        timeout: seconds of silence after which a connection is cut, and the
            bound of every connect and join.

    Attributes:
        port: the local port clients connect to.
        dropped_replies: requests executed whose answer was swallowed.
        dropped_requests: requests cut before reaching the server.
        delayed: requests held before being forwarded.
        connections: connections accepted so far.
        refused: connections refused (over ``max_connections``, or upstream down).
        faults: every fault injected, in order.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        protocol: str = "auto",
        max_connections: int = 32,
        timeout: float = 30.0,
    ) -> None:
        if protocol != "auto":
            wire_for(protocol)  # validates the name
        self.upstream = (upstream_host, upstream_port)
        self.protocol = protocol
        self.max_connections = max_connections
        self.timeout = timeout
        self.dropped_replies = 0
        self.dropped_requests = 0
        self.delayed = 0
        self.connections = 0
        self.refused = 0
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._rules: list[_Rule] = []
        self._links: list[_Link] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._acceptor.start()

    @classmethod
    def for_url(cls, url: str | sa.URL, **options: Any) -> Proxy:
        """A proxy in front of the server a SQLAlchemy URL or ``mongodb://`` URI names."""
        text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        if text.startswith("mongodb://"):
            netloc = urlsplit(text).netloc.rpartition("@")[2].split(",")[0]
            host, _, port = netloc.partition(":")
            options.setdefault("protocol", "mongodb")
            return cls(host or "127.0.0.1", int(port or 27017), **options)
        u = sa.make_url(text)
        backend = u.get_backend_name()
        if backend not in _DEFAULT_PORTS:
            raise ValueError(f"cannot proxy {backend!r}: only MySQL, PostgreSQL and MongoDB")
        options.setdefault("protocol", "mysql" if backend == "mariadb" else backend)
        return cls(u.host or "127.0.0.1", u.port or _DEFAULT_PORTS[backend], **options)

    # -- configuration -------------------------------------------------------

    def url(self, url: str | sa.URL) -> str:
        """The same SQLAlchemy URL or MongoDB URI, pointed at this proxy.

        PostgreSQL URLs get ``sslmode=disable`` (encrypted traffic cannot be
        matched); MongoDB URIs get ``directConnection=true`` (the proxy fronts
        one server) and, unless they say otherwise, ``retryWrites=false`` (so
        the driver reports a dropped reply instead of retrying on its own).
        """
        text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        if text.startswith("mongodb+srv://"):
            raise ValueError("a mongodb+srv:// URI names several servers; give one host")
        if text.startswith("mongodb://"):
            parts = urlsplit(text)
            userinfo, at, _ = parts.netloc.rpartition("@")
            query = dict(parse_qsl(parts.query))
            query["directConnection"] = "true"
            query.setdefault("retryWrites", "false")
            netloc = f"{userinfo}{at}127.0.0.1:{self.port}"
            return urlunsplit((parts.scheme, netloc, parts.path or "/", urlencode(query), ""))
        u = sa.make_url(text)
        backend = u.get_backend_name()
        if backend not in _DEFAULT_PORTS:
            raise ValueError(f"cannot proxy {backend!r}: only MySQL, PostgreSQL and MongoDB")
        u = u.set(host="127.0.0.1", port=self.port)
        if backend == "postgresql" and "sslmode" not in u.query:
            u = u.update_query_dict({"sslmode": "disable"})
        return u.render_as_string(hide_password=False)

    def arm(self, pattern: bytes, mode: Mode, *, count: int = 1, seconds: float = 0.0) -> None:
        """Act on the next ``count`` requests containing ``pattern``.

        Rules fire in the order they were armed; a request triggers at most one.

        Args:
            pattern: bytes to find in a request (``b"UPDATE"``, ``command("insert")``).
            mode: ``drop_reply``, ``drop_request`` or ``delay``.
            count: how many matching requests to act on.
            seconds: how long ``delay`` holds each one.
        """
        _check_mode(mode)
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        with self._lock:
            self._rules.append(_Rule(pattern, mode, count, seconds))

    def arm_random(
        self,
        pattern: bytes,
        probability: float,
        seed: int,
        limit: int,
        *,
        modes: tuple[str, ...] = ("drop_reply", "drop_request"),
        seconds: float = 0.0,
    ) -> None:
        """Act on each request containing ``pattern`` with ``probability``, at most ``limit`` times.

        Decisions come from ``random.Random(seed)``, one draw per matching
        request until the limit is reached: the same sequence of requests
        gets the same faults (:attr:`faults` records which match each hit).

        Args:
            pattern: bytes to find in a request.
            probability: chance of acting on one matching request (0 to 1).
            seed: seeds the decisions (and the choice among ``modes``).
            limit: most faults this rule injects.
            modes: the faults to choose from.
            seconds: how long ``delay`` holds a request.
        """
        for mode in modes:
            _check_mode(mode)
        if not 0.0 <= probability <= 1.0 or limit < 0 or not modes:
            raise ValueError("probability must be in [0, 1], limit >= 0, and modes not empty")
        rule = _Rule(pattern, seconds=seconds, rng=random.Random(seed), probability=probability)
        rule.modes, rule.limit = tuple(modes), limit
        with self._lock:
            self._rules.append(rule)

    def disarm(self) -> None:
        """Forget every armed rule."""
        with self._lock:
            self._rules.clear()

    @property
    def armed(self) -> bool:
        """Whether a rule may still fire."""
        with self._lock:
            return any(r.rng is None or r.fired < r.limit for r in self._rules)

    # -- connections ---------------------------------------------------------

    @property
    def active(self) -> int:
        """Proxied connections open now."""
        with self._lock:
            return sum(not link.closed for link in self._links)

    def cut_all(self) -> int:
        """Cut every open connection now (a network failure); return how many."""
        with self._lock:
            links = [link for link in self._links if not link.closed]
        for link in links:
            link.cut()
        return len(links)

    def close(self) -> None:
        """Stop accepting, cut every connection, and join every thread (bounded)."""
        self._closing.set()
        self.cut_all()
        self._acceptor.join(_JOIN)
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut_all()  # a connection accepted while closing
        with self._lock:
            threads = [t for link in self._links for t in link.threads]
        deadline = time.monotonic() + _JOIN
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def alive_threads(self) -> int:
        """Threads of this proxy still running (0 after :meth:`close`)."""
        with self._lock:
            threads = [t for link in self._links for t in link.threads]
        return sum(t.is_alive() for t in [self._acceptor, *threads])

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        host, port = self.upstream
        return f"<Proxy 127.0.0.1:{self.port} -> {host}:{port} ({self.protocol})>"

    # -- the threads ---------------------------------------------------------

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._open(client)

    def _open(self, client: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            number = self.connections
            self._links = [link for link in self._links if not link.closed]
            full = len(self._links) >= self.max_connections
        try:
            if full or self._closing.is_set():
                raise ConnectionRefusedError("over max_connections")
            server = socket.create_connection(self.upstream, timeout=self.timeout)
        except OSError:
            with self._lock:
                self.refused += 1
            with contextlib.suppress(OSError):
                client.close()
            return
        for sock in (client, server):
            sock.settimeout(self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = None if self.protocol == "auto" else wire_for(self.protocol)
        link = _Link(number, client, server, wire)
        if wire is not None:
            link.ready.set()
        for target, name in ((self._upstream, "up"), (self._downstream, "down")):
            thread = threading.Thread(
                target=target, args=(link,), name=f"proxy-{name}", daemon=True
            )
            link.threads.append(thread)
        with self._lock:
            self._links.append(link)
        for thread in link.threads:
            thread.start()

    def _framing(self, link: _Link, reader: Reader, side: str) -> Wire:
        """The link's framer; the side that hears bytes first detects the protocol."""
        if link.wire is None:
            reader.peek(1)
            with self._lock:
                first = not link.claim
                link.claim = link.claim or side
            if first:
                link.wire = detect_client(reader) if side == "client" else detect_server(reader)
                link.ready.set()
            elif not link.ready.wait(self.timeout):
                raise Closed("protocol not detected in time")
        if link.closed or link.wire is None:
            raise Closed("cut")
        return link.wire

    def _upstream(self, link: _Link) -> None:
        reader = Reader(link.client)
        try:
            wire = self._framing(link, reader, "client")
            while True:
                request = wire.request(reader)
                action = self._decide(link, wire.text(request))
                if wire.ends_request(request):
                    link.fired_in_request = False
                if action is not None:
                    mode, seconds = action
                    if mode == "drop_request":
                        with self._lock:
                            self.dropped_requests += 1
                        break
                    if mode == "drop_reply":
                        link.swallowing = True
                    elif mode == "delay":
                        if self._closing.wait(seconds):
                            break
                        with self._lock:
                            self.delayed += 1
                link.server.sendall(request)
        except (Closed, OSError):
            pass
        link.cut()

    def _downstream(self, link: _Link) -> None:
        reader = Reader(link.server)
        try:
            wire = self._framing(link, reader, "server")
            while True:
                reply = wire.reply(reader)
                if link.swallowing:
                    if wire.answered(reply):
                        with self._lock:
                            self.dropped_replies += 1
                        break
                    continue
                link.client.sendall(reply)
        except (Closed, OSError):
            pass
        link.cut()

    def _decide(self, link: _Link, text: bytes) -> tuple[str, float] | None:
        """The fault to inject on a request (at most one per request), if any."""
        if link.fired_in_request or link.swallowing:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.pattern not in text:
                    continue
                if rule.rng is None:
                    mode, match = rule.mode, 0
                    rule.count -= 1
                    if not rule.count:
                        self._rules.remove(rule)
                else:
                    if rule.fired >= rule.limit:
                        continue
                    rule.matches += 1
                    if rule.rng.random() >= rule.probability:
                        continue
                    mode, match = rule.rng.choice(rule.modes), rule.matches
                    rule.fired += 1
                link.fired_in_request = True
                self.faults.append(Fault(mode, rule.pattern, link.number, match))
                return mode, rule.seconds
        return None


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
