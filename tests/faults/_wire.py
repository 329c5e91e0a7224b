"""Framing of the wire protocols the fault proxy understands: MySQL, PostgreSQL, MongoDB.

A :class:`Wire` splits the two byte streams of one proxied connection into
messages, so a pattern is matched against one whole request (never half of
one split across two reads), and says when the server has answered a
request. One ``Wire`` object serves one connection: PostgreSQL keeps state
(the startup phase, the text of named prepared statements).

- MySQL: every packet is a 3-byte little-endian length, a sequence byte and
  the payload; a ``COM_QUERY`` payload is ``0x03`` and the SQL text. The
  first packet after a request is the answer (OK, error or result header):
  in autocommit the server sends it after the commit.
- PostgreSQL: after an untyped startup message (or ``SSLRequest``, answered
  by one byte), every message is a type byte and a 4-byte big-endian length.
  A statement's text travels in ``Parse``; once psycopg prepares a statement
  (after ``prepare_threshold`` executions) only ``Bind`` names it, so a
  ``Bind`` is matched with the text of the statement it names. A request
  ends with ``Sync`` (or is one simple ``Query``); the server answers with
  ``ReadyForQuery`` once the transaction is finished.
- MongoDB: every message (``OP_MSG``, ``OP_QUERY``, ...) starts with its
  4-byte little-endian length; the first message back is the reply.
"""

from __future__ import annotations

import socket
import threading

__all__ = ["Reader", "Wire", "detect_client", "detect_server", "wire_for"]

_CHUNK = 65536
#: PostgreSQL's untyped requests (codes in the startup packet).
_PG_SSL, _PG_GSSENC, _PG_CANCEL = 80877103, 80877104, 80877102
#: MongoDB opcodes a client sends first: OP_QUERY (legacy hello), OP_MSG, OP_COMPRESSED.
_MONGO_OPCODES = frozenset({2004, 2013, 2012})


class Closed(Exception):
    """The peer closed its end (or the socket failed or timed out)."""


class Reader:
    """Buffered reads from one socket: exact sizes, peeks, or whatever arrived."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self, size: int) -> None:
        while len(self.buffer) < size:
            try:
                chunk = self.sock.recv(_CHUNK)
            except OSError as exc:  # timeout, reset, closed by the proxy
                raise Closed(str(exc)) from exc
            if not chunk:
                raise Closed("end of stream")
            self.buffer += chunk

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes, left in the buffer."""
        self._fill(size)
        return bytes(self.buffer[:size])

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes."""
        self._fill(size)
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out

    def chunk(self) -> bytes:
        """Whatever is buffered, or the next read."""
        self._fill(1)
        out = bytes(self.buffer)
        self.buffer.clear()
        return out


class Wire:
    """Unframed bytes (any protocol): a request is whatever one read returned."""

    name = "raw"

    def request(self, reader: Reader) -> bytes:
        """The next client message."""
        return reader.chunk()

    def reply(self, reader: Reader) -> bytes:
        """The next server message."""
        return reader.chunk()

    def text(self, request: bytes) -> bytes:
        """What patterns are matched against for ``request``."""
        return request

    def ends_request(self, request: bytes) -> bool:
        """Whether the server answers after ``request`` (a fault fires once per request)."""
        return True

    def answered(self, reply: bytes) -> bool:
        """Whether ``reply`` completes the server's answer to the current request."""
        return True


class MySQLWire(Wire):
    """MySQL / MariaDB packets."""

    name = "mysql"

    def request(self, reader: Reader) -> bytes:
        head = reader.take(4)
        return head + reader.take(int.from_bytes(head[:3], "little"))

    reply = request


class PostgresWire(Wire):
    """PostgreSQL frontend/backend protocol 3."""

    name = "postgresql"

    def __init__(self) -> None:
        self.started = False
        self.encrypted = False
        self._untyped_reply = threading.Event()
        self._untyped_reply.set()
        self._statements: dict[bytes, bytes] = {}

    def request(self, reader: Reader) -> bytes:
        # After SSLRequest, the next client bytes depend on the server's one-byte answer.
        self._untyped_reply.wait(reader.sock.gettimeout())
        if self.encrypted:
            return reader.chunk()
        if not self.started:
            head = reader.take(4)
            body = reader.take(int.from_bytes(head, "big") - 4)
            code = int.from_bytes(body[:4], "big")
            if code in (_PG_SSL, _PG_GSSENC):
                self._untyped_reply.clear()
            elif code != _PG_CANCEL:
                self.started = True
            return head + body
        head = reader.take(5)
        message = head + reader.take(int.from_bytes(head[1:], "big") - 4)
        if message[:1] == b"P":
            name, _, rest = message[5:].partition(b"\x00")
            if name:
                self._statements[name] = rest.partition(b"\x00")[0]
        return message

    def reply(self, reader: Reader) -> bytes:
        if self.encrypted:
            return reader.chunk()
        if not self._untyped_reply.is_set():
            answer = reader.take(1)
            self.encrypted = answer in (b"S", b"G")
            self._untyped_reply.set()
            return answer
        head = reader.take(5)
        return head + reader.take(int.from_bytes(head[1:], "big") - 4)

    def text(self, request: bytes) -> bytes:
        if request[:1] == b"B":
            statement = request[5:].split(b"\x00", 2)[1]
            return request + self._statements.get(statement, b"") if statement else request
        return request

    def ends_request(self, request: bytes) -> bool:
        return not self.started or self.encrypted or request[:1] in (b"S", b"Q")

    def answered(self, reply: bytes) -> bool:
        return self.encrypted or reply[:1] == b"Z"


class MongoWire(Wire):
    """MongoDB wire-protocol messages."""

    name = "mongodb"

    def request(self, reader: Reader) -> bytes:
        head = reader.take(4)
        return head + reader.take(int.from_bytes(head, "little", signed=True) - 4)

    reply = request


_WIRES: dict[str, type[Wire]] = {
    "raw": Wire,
    "mysql": MySQLWire,
    "postgresql": PostgresWire,
    "mongodb": MongoWire,
}


def wire_for(protocol: str) -> Wire:
    """A fresh framer for ``protocol`` (``raw``, ``mysql``, ``postgresql``, ``mongodb``)."""
    try:
        return _WIRES[protocol]()
    except KeyError:
        raise ValueError(f"protocol {protocol!r} is not one of {', '.join(_WIRES)}") from None


def detect_client(reader: Reader) -> Wire:
    """The protocol of a connection whose client spoke first (PostgreSQL, MongoDB)."""
    code = int.from_bytes(reader.peek(8)[4:8], "big")
    if code in (_PG_SSL, _PG_GSSENC, _PG_CANCEL):
        return PostgresWire()
    # Both a MongoDB message and a PostgreSQL startup message are longer than 16 bytes.
    if int.from_bytes(reader.peek(16)[12:16], "little") in _MONGO_OPCODES:
        return MongoWire()
    return PostgresWire() if code >> 16 == 3 else Wire()


def detect_server(reader: Reader) -> Wire:
    """The protocol of a connection whose server spoke first (MySQL's greeting)."""
    head = reader.peek(5)
    # protocol version 10, or an error packet (e.g. too many connections)
    return MySQLWire() if head[3] == 0 and head[4] in (10, 0xFF) else Wire()
