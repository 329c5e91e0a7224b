"""Each ``_sync/`` package is generated from its ``_async/`` sibling; ``--check`` sees drift."""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "scripts/unasync.py"
SOURCE = "occ/sql/_async/repository.py"
TARGET = "occ/sql/_sync/repository.py"


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / SCRIPT), "--check"], capture_output=True, text=True, cwd=root
    )


def _copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / SCRIPT, tmp_path / SCRIPT)
    shutil.copytree(ROOT / "occ", tmp_path / "occ", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_every_async_package_has_its_generated_sync_twin() -> None:
    pairs = runpy.run_path(str(ROOT / SCRIPT))["pairs"]()
    sources = {s.relative_to(ROOT).as_posix() for s, _ in pairs}
    assert {SOURCE, "occ/_async/drive.py", "occ/testing/_async/runner.py"} <= sources
    for source, target in pairs:
        assert target.exists(), target
        assert target.read_text().startswith(f"# Generated from {source.relative_to(ROOT)}")


def test_generated_sync_drivers_are_up_to_date() -> None:
    done = _check(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_fails_on_a_stale_generated_file(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    target = root / TARGET
    target.write_text(target.read_text().replace("def _read(", "def _read_one("))
    done = _check(root)
    assert done.returncode == 1
    assert f"{TARGET} is stale" in done.stdout
    assert "+    def _read(" in done.stdout


def test_check_fails_on_an_unused_rule(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    for source in root.glob("occ/**/_async/*.py"):  # every file that calls it
        source.write_text(source.read_text().replace("astart_transaction", "begin_transaction"))
    done = _check(root)
    assert done.returncode == 1
    assert "unused rewrite rule: 'astart_transaction' -> 'start_transaction'" in done.stdout


def test_check_fails_on_a_sync_file_without_source(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "occ/sql/_sync/extra.py").write_text("X = 1\n")
    done = _check(root)
    assert done.returncode == 1
    assert "occ/sql/_sync/extra.py has no async source" in done.stdout


def test_generate_rewrites_the_sync_files(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / TARGET).unlink()
    done = subprocess.run([sys.executable, str(root / SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"wrote {TARGET}" in done.stdout
    assert (root / TARGET).read_text() == (ROOT / TARGET).read_text()
    assert _check(root).returncode == 0
