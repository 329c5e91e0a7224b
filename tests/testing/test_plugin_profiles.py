"""occ's pytest plugin registers Hypothesis profiles and loads none: the project's settings win."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import settings

from tests.testing.project import run_pytest, write_project

COUNTING_TEST = """
from hypothesis import given, strategies as st

seen = []


@given(st.integers())
def test_property(n):
    seen.append(n)


def test_report():
    print(f"examples={len(seen)}")
"""
OWN_PROFILE = """
from hypothesis import settings

settings.register_profile("project", max_examples=10, database=None)
settings.load_profile("project")
"""


def examples(root: Path, *args: str, ci: bool) -> int:
    out = run_pytest(root, *args, env={"CI": "true"} if ci else {})
    assert out.returncode == 0, out.stdout + out.stderr
    found = re.search(r"examples=(\d+)", out.stdout)
    assert found, out.stdout
    return int(found.group(1))


@pytest.mark.parametrize("ci", [False, True], ids=["local", "CI=true"])
def test_the_projects_own_profile_wins(tmp_path: Path, ci: bool) -> None:
    root = write_project(tmp_path, {"conftest.py": OWN_PROFILE, "test_count.py": COUNTING_TEST})
    assert examples(root, ci=ci) == 10


@pytest.mark.parametrize("ci", [False, True], ids=["local", "CI=true"])
def test_without_opting_in_hypothesis_keeps_its_defaults(tmp_path: Path, ci: bool) -> None:
    root = write_project(tmp_path, {"test_count.py": COUNTING_TEST})
    assert examples(root, ci=ci) == settings.get_profile("default").max_examples


def test_a_project_opts_in_with_hypothesis_profile_option(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"test_count.py": COUNTING_TEST})
    assert examples(root, "--hypothesis-profile=occ-ci", ci=False) == 25


def test_a_project_opts_in_from_its_conftest(tmp_path: Path) -> None:
    conftest = 'from hypothesis import settings\n\nsettings.load_profile("occ-ci")\n'
    root = write_project(tmp_path, {"conftest.py": conftest, "test_count.py": COUNTING_TEST})
    assert examples(root, ci=False) == 25
