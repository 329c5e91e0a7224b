"""The ``occ`` pytest plugin: Hypothesis profiles for CI and local runs.

Profiles: ``occ-ci`` (selected when ``CI`` is set: few, derandomized examples)
and ``occ-dev`` (more examples). ``HYPOTHESIS_PROFILE`` overrides the choice.
"""

from __future__ import annotations

import os

import pytest


def _register_profiles() -> None:
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # hypothesis is the testing extra
        return
    slow = [HealthCheck.too_slow]
    settings.register_profile(
        "occ-ci", max_examples=25, derandomize=True, deadline=None, suppress_health_check=slow
    )
    settings.register_profile(
        "occ-dev", max_examples=200, deadline=None, suppress_health_check=slow
    )
    default = "occ-ci" if os.environ.get("CI") else "occ-dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


def pytest_configure(config: pytest.Config) -> None:
    _register_profiles()
