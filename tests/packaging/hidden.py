"""Run Python in a subprocess where some installed modules cannot be imported.

A ``sitecustomize`` module in a temporary directory put first on ``PYTHONPATH``
installs a meta-path finder that refuses the hidden top-level modules, as if
their distribution were not installed: ``import hypothesis`` raises
``ModuleNotFoundError`` there, in the interpreter and in every console script.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

TIMEOUT = 120

_BLOCKER = """\
import sys

HIDDEN = {hidden!r}


class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Hide())
"""


def run_hiding(
    hidden: Sequence[str], args: Sequence[str], tmp_path: Path, *, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` with the top-level modules ``hidden`` made unimportable."""
    site = tmp_path / "hide-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_BLOCKER.format(hidden=sorted(hidden)))
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=cwd or tmp_path,
        check=False,
    )
