"""occ.testing.mongo_server: the emulator starts, answers, stops; a named server is used as is."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from occ.testing.databases import DatabaseUnavailableError, unreachable
from occ.testing.mongo_server import emulator, mongo_server


def test_emulator_answers_on_loopback_then_stops() -> None:
    with emulator() as server:
        assert server.emulated
        assert server.uri.startswith("mongodb://127.0.0.1:")
        assert unreachable(server.uri) is None
        assert server.log is not None
    assert unreachable(server.uri) is not None


def test_mongo_server_uses_the_server_in_the_environment(
    mongodb_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCC_MONGODB_URI", mongodb_uri)
    with mongo_server() as server:
        assert (server.uri, server.emulated, server.log) == (mongodb_uri, False, None)


def test_a_named_server_that_is_down_is_an_error_not_an_emulator() -> None:
    down = "mongodb://u:secret@127.0.0.1:1/?serverSelectionTimeoutMS=200"
    with pytest.raises(DatabaseUnavailableError) as caught, mongo_server(down):
        pass
    assert "127.0.0.1:1" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_emulator_stops_when_the_process_that_started_it_is_killed() -> None:
    code = (
        "import time\n"
        "from occ.testing.mongo_server import emulator\n"
        "with emulator() as server:\n"
        "    print(server.uri, flush=True)\n"
        "    time.sleep(120)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as run:
        try:
            assert run.stdout is not None
            uri = run.stdout.readline().strip()
            assert unreachable(uri) is None
        finally:
            run.kill()  # SIGKILL: no clean-up code of the run gets to stop the emulator
            run.wait(timeout=10)
    deadline = time.monotonic() + 15
    while unreachable(uri) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert unreachable(uri) is not None, "the emulator outlived the run that started it"
