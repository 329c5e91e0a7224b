"""A TCP proxy in front of the test server that can cut one command's connection.

It makes real unknown-outcome writes, without mocks: ``drop_reply`` lets the
server execute the command and closes the client's connection before the
reply arrives (the write applied, the client cannot know); ``drop_request``
closes it before the command reaches the server (the write did not apply).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

__all__ = ["Proxy"]


def _read_message(sock: socket.socket) -> bytes | None:
    """One wire-protocol message (length-prefixed), or ``None`` when the socket closed."""
    header = _read_exact(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack("<i", header)
    body = _read_exact(sock, length - 4)
    return None if body is None else header + body


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        try:
            chunk = sock.recv(size)
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


class Proxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream``; ``arm`` cuts the next matching command."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed: tuple[bytes, str] | None = None
        self._sockets: list[socket.socket] = []
        self.cut = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true&retryWrites=false"

    def arm(self, command: str, mode: str) -> None:
        """Cut the next ``command`` (``"findAndModify"``, ``"insert"``, ...).

        ``mode``: ``"drop_reply"`` (executed, reply lost) or ``"drop_request"``.
        """
        with self._lock:
            self._armed = (b"\x02" + command.encode() + b"\x00", mode)

    def close(self) -> None:
        _close(self._listener, *self._sockets)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self._sockets += [client, upstream]
            state = {"drop_reply": False}
            threading.Thread(target=self._up, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._down, args=(client, upstream, state), daemon=True).start()

    def _take(self, message: bytes) -> str | None:
        with self._lock:
            if self._armed is not None and self._armed[0] in message:
                mode = self._armed[1]
                self._armed = None
                self.cut += 1
                return mode
        return None

    def _up(self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]) -> None:
        while (message := _read_message(client)) is not None:
            mode = self._take(message)
            if mode == "drop_request":
                _close(client, upstream)
                return
            if mode == "drop_reply":
                state["drop_reply"] = True
            try:
                upstream.sendall(message)
            except OSError:
                break
        _close(client, upstream)

    def _down(self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]) -> None:
        while (message := _read_message(upstream)) is not None:
            if state["drop_reply"]:
                break
            try:
                client.sendall(message)
            except OSError:
                break
        _close(client, upstream)
