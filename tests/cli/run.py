"""Run the ``occ`` command for real: a subprocess, bounded in time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TIMEOUT = 90


def occ(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m occ ARGS`` with stdout and stderr captured (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "occ", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
    )


def occ_json(*args: str) -> Any:
    """``occ ARGS --json``, which must exit 0; the parsed output."""
    out = occ(*args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def console_script() -> str:
    """The installed ``occ`` console script next to this Python."""
    return str(Path(sys.executable).with_name("occ"))


def assert_one_line_error(out: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Bad input: non-zero exit, one line on stderr naming the problem, no traceback."""
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
