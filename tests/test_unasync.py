"""The sync drivers are generated from the async ones, and ``--check`` catches drift."""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "scripts/unasync.py"


#: every async source and its generated twin, as the script lists them.
PAIRS = [
    path
    for source, (target, _) in runpy.run_path(str(ROOT / SCRIPT))["FILES"].items()
    for path in (source, target)
]


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / SCRIPT), "--check"], capture_output=True, text=True, cwd=root
    )


def _copy(tmp_path: Path) -> Path:
    for name in [SCRIPT, "pyproject.toml", *PAIRS]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_generated_sync_drivers_are_up_to_date() -> None:
    done = _check(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_fails_on_a_stale_generated_file(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    target = root / "occ/sql/_sync.py"
    target.write_text(target.read_text().replace("def find(", "def find_one("))
    done = _check(root)
    assert done.returncode == 1
    assert "occ/sql/_sync.py is stale" in done.stdout
    assert "+    def find(" in done.stdout


def test_check_fails_on_an_unused_rule(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    source = root / "occ/mongo/_async.py"
    source.write_text(source.read_text().replace("async_start_transaction", "begin_transaction"))
    done = _check(root)
    assert done.returncode == 1
    assert "unused rewrite rule: 'async_start_transaction' -> 'start_transaction'" in done.stdout


def test_generate_rewrites_the_sync_files(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "occ/mongo/_sync.py").unlink()
    done = subprocess.run([sys.executable, str(root / SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote occ/mongo/_sync.py" in done.stdout
    assert (root / "occ/mongo/_sync.py").read_text() == (ROOT / "occ/mongo/_sync.py").read_text()
    assert _check(root).returncode == 0
