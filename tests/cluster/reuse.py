"""Re-run the suite's own tests on a cluster, without copying them."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from _pytest.fixtures import FixtureFunctionDefinition


def rerun(namespace: dict[str, Any], *modules: ModuleType, skip: tuple[str, ...] = ()) -> None:
    """Collect the ``test_*`` functions and the fixtures of ``modules`` in ``namespace``
    (a test module's globals).

    Pytest then runs them from that module, so its fixtures (a ``backend`` bound
    to a cluster node) apply, and the modules' own fixtures come along.
    ``skip``: tests that mean nothing there (another database's behaviour).
    """
    for module in modules:
        for name, value in vars(module).items():
            test = name.startswith("test_") and callable(value)
            if name in skip or (not test and not isinstance(value, FixtureFunctionDefinition)):
                continue
            if value.__module__ != module.__name__:
                continue  # imported into it: the fixture's own module provides it
            if name in namespace and namespace[name] is not value:
                raise ValueError(f"{name} is in two re-run modules")
            namespace[name] = value
