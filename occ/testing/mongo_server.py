"""A MongoDB server for tests: ``nx-27017`` started on a free port, or ``OCC_MONGODB_URI``.

[nx-27017](https://pypi.org/project/nx-27017/) is a MongoDB wire-protocol
server with an in-memory store (``pip install nx-27017``). :func:`emulator`
starts one on a free loopback port, waits until it answers ``ping`` and stops
it at the end (a killed test run leaves no server behind: it exits when the
process that started it is gone); :func:`mongo_server` does the same unless
``OCC_MONGODB_URI`` names a real server, which it then checks and uses as it is.

```text
from occ.testing.mongo_server import mongo_server

with mongo_server() as server:
    client = pymongo.MongoClient(server.uri)
    ...
```

As a pytest fixture, one server for the whole session:

```text
@pytest.fixture(scope="session")
def mongodb_uri():
    with mongo_server() as server:
        yield server.uri
```
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from occ.testing._mongo_admin import describe, unreachable
from occ.testing.databases import DatabaseUnavailableError

__all__ = ["ENV", "MongoServer", "emulator", "mongo_server"]

#: the environment variable naming a MongoDB server to use instead of the emulator.
ENV = "OCC_MONGODB_URI"
#: how many times a start is retried when the free port was taken in between.
_STARTS = 3
#: runs nx-27017 (whose package has no ``__main__``) and exits when the process that
#: started it is gone, so a killed test run leaves no server behind.
_WATCHED = """
import os, runpy, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv[0] = "nx_27017"
runpy.run_module("nx_27017.nx_27017", run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class MongoServer:
    """A running MongoDB server.

    Attributes:
        uri: its connection string (``mongodb://127.0.0.1:PORT/`` for the emulator).
        emulated: ``True`` for ``nx-27017`` (no replica set, emulated transactions).
        log: the emulator's log file, ``None`` for an external server.
    """

    uri: str
    emulated: bool
    log: Path | None = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _start(workdir: Path, timeout: float) -> tuple[subprocess.Popen[bytes], str, str | None]:
    """One attempt: the process, its URI, and why it does not answer (``None``: it does)."""
    port = _free_port()
    uri = f"mongodb://127.0.0.1:{port}/"
    command = [
        sys.executable, "-c", _WATCHED, "--db", "memory", "--host", "127.0.0.1",
        "--port", str(port), "--log-file", str(workdir / "server.log"),
        "--pid-file", str(workdir / "server.pid"),
    ]  # fmt: skip
    with open(workdir / "server.out", "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    why: str | None = "did not answer"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return proc, uri, f"exited with code {proc.returncode}"
        why = unreachable(uri)
        if why is None:
            return proc, uri, None
        time.sleep(0.1)
    return proc, uri, f"did not answer within {timeout:g} s: {why}"


@contextmanager
def emulator(*, timeout: float = 30.0, workdir: str | Path | None = None) -> Iterator[MongoServer]:
    """Start ``nx-27017`` (in-memory) on a free loopback port; stop it on exit.

    The server also exits by itself when the process that started it dies.

    Args:
        timeout: seconds to wait for the server to answer ``ping``.
        workdir: where its log, pid file and output go (default: a new temporary
            directory, removed at the end).

    Yields:
        The running server.

    Raises:
        DatabaseUnavailableError: ``nx-27017`` is not installed, or it did not
            start (the message ends with its output).
    """
    try:
        import nx_27017  # noqa: F401
    except ImportError:
        raise DatabaseUnavailableError(
            "nx-27017", "not installed: pip install nx-27017 (or set OCC_MONGODB_URI)"
        ) from None
    with tempfile.TemporaryDirectory(prefix="occ-nx27017-") as scratch:
        where = Path(workdir) if workdir is not None else Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        for _attempt in range(_STARTS):
            proc, uri, why = _start(where, timeout)
            if why is None:
                break
            _stop(proc)  # most likely the port was taken between choosing and binding it
        else:
            output = (where / "server.out").read_text(errors="replace")[-2000:]
            raise DatabaseUnavailableError(uri, f"nx-27017 {why}\n{output}")
        try:
            yield MongoServer(uri, emulated=True, log=where / "server.log")
        finally:
            _stop(proc)


@contextmanager
def mongo_server(
    uri: str | None = None, *, env: str = ENV, timeout: float = 30.0
) -> Iterator[MongoServer]:
    """The server ``uri`` (else ``$OCC_MONGODB_URI``) if one is named, else a new emulator.

    Args:
        uri: a MongoDB connection string to use as it is.
        env: the environment variable read when ``uri`` is not given.
        timeout: seconds to wait for the emulator to start.

    Yields:
        The server: checked with ``ping`` if external, started and stopped if emulated.

    Raises:
        DatabaseUnavailableError: the named server does not answer, or the
            emulator cannot start.
    """
    external = uri or os.environ.get(env)
    if not external:
        with emulator(timeout=timeout) as server:
            yield server
        return
    why = unreachable(external)
    if why is not None:
        raise DatabaseUnavailableError(describe(external), why)
    yield MongoServer(external, emulated=False)
