"""Session fixture for a MongoDB server: nx-27017 on a free port, or OCC_MONGODB_URI.

With ``OCC_MONGODB_URI`` set, the tests use that server (a real MongoDB,
ideally a replica set, where transactions and retryable writes are real).
Otherwise ``nx-27017`` (a MongoDB wire-protocol server, a dev dependency)
starts on a free port with an in-memory store and stops when the session
ends. With ``CI`` set, a server that cannot start fails the run; locally it
skips the tests that need it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_CI = bool(os.environ.get("CI"))
START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing database is a failure)", pytrace=False)
    pytest.skip(message)


def ping(uri: str) -> str | None:
    """Why the server at ``uri`` does not answer, or ``None`` if it does."""
    import pymongo

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500
    )
    try:
        client.admin.command("ping")
    except Exception as exc:  # any failure to answer
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        client.close()
    return None


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of the test MongoDB server (started here unless OCC_MONGODB_URI is set)."""
    external = os.environ.get("OCC_MONGODB_URI")
    if external:
        problem = ping(external)
        if problem is not None:
            _unavailable(f"OCC_MONGODB_URI={external} is unreachable: {problem}")
        yield external
        return
    try:
        import nx_27017  # noqa: F401
    except ImportError:
        _unavailable("nx-27017 is not installed: pip install -e '.[dev]'")
    workdir: Path = tmp_path_factory.mktemp("nx27017")
    port = _free_port()
    uri = f"mongodb://127.0.0.1:{port}/"
    log = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "nx_27017.nx_27017",
        "--db",
        "memory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-file",
        str(log),
        "--pid-file",
        str(workdir / "server.pid"),
    ]
    with open(workdir / "server.out", "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        why: str | None = "not started"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                why = f"exited with code {proc.returncode}"
                break
            why = ping(uri)
            if why is None:
                break
            time.sleep(0.1)
        if why is not None:
            output = (workdir / "server.out").read_text(errors="replace")[-2000:]
            _unavailable(f"nx-27017 did not start on port {port}: {why}\n{output}")
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
