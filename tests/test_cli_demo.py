"""``occ demo`` through its real entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends import Backend


def test_demo_on_embedded_sqlite_reports_nothing_lost(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    out = subprocess.run(
        [sys.executable, "-m", "occ", "demo", "--url", url, "--writers", "4", "--ops", "20"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "verdict: no update lost" in out.stdout
    assert "increments committed: 80 of 80" in out.stdout


def test_demo_console_script_runs_on_each_backend(backend: Backend) -> None:
    exe = Path(sys.executable).with_name("occ")
    out = subprocess.run(
        [str(exe), "demo", "--url", backend.url, "--writers", "3", "--ops", "10"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "no update lost" in out.stdout


@pytest.mark.parametrize("argv", [["--writers", "0"], ["--url", "nope://x"]])
def test_demo_bad_input_is_one_line_and_nonzero(argv: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "occ", "demo", *argv], capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
