"""Every ```python block of every page under docs/ runs, in order, one namespace per page.

Pages run in a fresh temporary directory (so ``sqlite:///example.db`` is a new
file); ``OCC_MONGODB_URI`` points at the test MongoDB server when a page needs it.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = sorted(p for p in DOCS.rglob("*.md") if BLOCK.search(p.read_text()))


def blocks(page: Path) -> list[str]:
    return [m.group(1) for m in BLOCK.finditer(page.read_text())]


def test_docs_have_examples() -> None:
    assert PAGES, "no page under docs/ has a python example"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.chdir(tmp_path)
    checkout = sorted(p.name for p in DOCS.parent.iterdir())
    text = page.read_text()
    if "OCC_MONGODB_URI" in text:
        uri = request.getfixturevalue("mongodb_uri")
        monkeypatch.setenv("OCC_MONGODB_URI", uri)
    # A real module, so libraries that resolve annotations through sys.modules work.
    module = types.ModuleType(f"occ_docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for number, source in enumerate(blocks(page), 1):
        code = compile(source, f"{page.name}[block {number}]", "exec")
        exec(code, module.__dict__)
    # Examples write only where they run: nothing new lands in the checkout.
    assert sorted(p.name for p in DOCS.parent.iterdir()) == checkout
