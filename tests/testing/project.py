"""A separate pytest project in a temporary directory, run by this venv's pytest in a subprocess.

occ is installed here, so its plugin loads there as it would in any user's
project; nothing of this suite (conftest, ini, environment) leaks in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TIMEOUT = 180


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (name -> text) and an empty ``pytest.ini`` under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def run_pytest(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q -s ARGS`` in ``root``, with this suite's settings left out."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "HYPOTHESIS_")) and key != "CI"
    }
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=environ,
    )
