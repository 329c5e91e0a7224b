"""Another project type-checks against occ installed in editable mode.

A temporary project gets a virtual environment of its own with occ installed
editable (no dependencies: the types are occ's own), and mypy run from that
project, with that environment's interpreter, must see ``occ.sql.Repository``'s
types: a deliberate type error is reported, a revealed type is occ's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300

USER_CODE = """\
from occ.sql import Repository


def total(repo: Repository[dict[str, int]]) -> int:
    reveal_type(repo.get(1).value)
    return repo.get(1).value["total"]


def version_text(repo: Repository[dict[str, int]]) -> str:
    return repo.get(1).version  # a deliberate error: a version is int | datetime
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
    )


def test_mypy_in_another_project_sees_occ_types_through_an_editable_install(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "use.py").write_text(USER_CODE)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    installed = _run([*pip, "--no-deps", "--quiet", "-e", str(ROOT)], cwd=project)
    assert installed.returncode == 0, installed.stderr

    checked = _run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--python-executable",
            str(python),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "use.py",
        ],
        cwd=project,
    )
    out = checked.stdout
    assert "import-not-found" not in out, out
    revealed = r'use.py:5: note: Revealed type is "(builtins\.)?dict\[(builtins\.)?str'
    assert re.search(revealed, out), out
    assert (
        'use.py:10: error: Incompatible return value type (got "int | datetime", expected "str")'
        in out
    ), out
    assert checked.returncode == 1, out
