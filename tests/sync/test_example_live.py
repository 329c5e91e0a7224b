"""``python -m examples.sync_live``: writers, relays that crash, Redis, two replicas —
bounded runs on a SQLite source and on a MongoDB source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from examples.sync_live.__main__ import main
from examples.sync_live.live import Options, run


def test_the_live_example_on_sqlite_converges_and_counts_what_it_discarded(
    redis_url: str, tmp_path: Path
) -> None:
    lines: list[str] = []
    opts = Options(broker=redis_url, seconds=1.5, writers=3, crash_every=2, workdir=tmp_path)
    result = run(opts, show=lines.append)
    assert result.converged, result.problems
    assert result.writes > 0
    assert result.crashes > 0  # batches published, then "crashed" before they were marked
    for counts in result.outcomes.values():
        assert counts["applied"] == result.published  # every event, once
        assert counts["duplicate"] + counts["stale"] > 0  # the copies, discarded
        assert counts["dead"] == 0
    assert re.search(r"pending +0 ", lines[-1]), lines[-1]  # nothing pending at the end


def test_the_live_example_on_a_mongodb_source_prints_its_report(
    redis_url: str, mongodb_uri: str, capsys: Any
) -> None:
    argv = ["--source", mongodb_uri, "--broker", redis_url, "--seconds", "1.5"]
    assert main([*argv, "--writers", "3", "--crash-every", "2"]) == 0
    out = capsys.readouterr().out
    assert "converged: every copy holds the source's values and versions" in out
    assert "orders:" in out
    assert "search:" in out


def test_a_bad_broker_is_one_clear_error(tmp_path: Path) -> None:
    from tests.sync.brokers import free_port

    opts = Options(broker=f"redis://127.0.0.1:{free_port()}/0", seconds=0.1, workdir=tmp_path)
    with pytest.raises(ConnectionError):
        run(opts, show=lambda line: None)
