"""Without an extra, importing what needs it names the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.packaging.hidden import run_hiding


def test_the_blocker_hides_what_it_is_told_to(tmp_path: Path) -> None:
    shown = run_hiding([], [sys.executable, "-c", "import hypothesis"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    hidden = run_hiding(["hypothesis"], [sys.executable, "-c", "import hypothesis"], tmp_path)
    assert "ModuleNotFoundError" in hidden.stderr


def test_occ_testing_without_hypothesis_names_the_testing_extra(tmp_path: Path) -> None:
    code = (
        "import occ, occ.resolvers\n"  # the core needs no extra
        "try:\n"
        "    import occ.testing\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc.name, '|', exc)\n"
    )
    out = run_hiding(["hypothesis"], [sys.executable, "-c", code], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ImportError hypothesis | "), out.stdout
    assert "occ.testing needs Hypothesis" in out.stdout
    assert "pip install 'occ[testing]'" in out.stdout


def occ_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "occ", *args]


def test_occ_demo_without_hypothesis_names_every_extra_it_needs(tmp_path: Path) -> None:
    out = run_hiding(["hypothesis"], occ_command("demo", "--ops", "1"), tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "hypothesis is not installed" in out.stderr
    assert "pip install 'occ[cli,sql,testing]'" in out.stderr


def test_occ_demo_without_sqlalchemy_names_every_extra_it_needs(tmp_path: Path) -> None:
    out = run_hiding(["sqlalchemy"], occ_command("demo", "--ops", "1"), tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "sqlalchemy is not installed" in out.stderr
    assert "pip install 'occ[cli,sql,testing]'" in out.stderr


def test_occ_doctor_without_sqlalchemy_names_its_extras(tmp_path: Path) -> None:
    out = run_hiding(["sqlalchemy"], occ_command("doctor", "sqlite:///x.db"), tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "occ doctor: sqlalchemy is not installed; occ doctor needs: pip install 'occ[cli,sql]'"
    )
    assert not (tmp_path / "x.db").exists()


def test_occ_doctor_on_mongodb_without_pymongo_names_the_mongo_extra(tmp_path: Path) -> None:
    out = run_hiding(["pymongo"], occ_command("doctor", "mongodb://127.0.0.1:1/"), tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "pymongo is not installed" in out.stderr
    assert "pip install 'occ[cli,mongo,sql]'" in out.stderr


def test_a_mongodb_outbox_needs_no_sqlalchemy(tmp_path: Path) -> None:
    code = (
        "import occ.mongo, occ.sync\n"
        "from occ.sync import MongoOutboxReader, Outbox, Relay\n"
        "print(Outbox(mongo='document').mongo, MongoOutboxReader.__name__, Relay.__name__)\n"
    )
    out = run_hiding(["sqlalchemy"], [sys.executable, "-c", code], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["document", "MongoOutboxReader", "Relay"]
