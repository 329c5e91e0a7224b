"""occ.testing.mongo_server: the emulator starts, answers, stops; a named server is used as is."""

from __future__ import annotations

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
