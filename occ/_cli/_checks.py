"""``occ doctor``'s results: one :class:`Check` per assumption, shown as a table, text or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Check", "Status", "exit_status", "plain_lines", "render_json", "render_table"]

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """The outcome of one check.

    Attributes:
        name: what was checked (``matched rowcount``, ``isolation level``, ...).
        status: ``pass``, ``warn`` or ``fail``.
        found: what the database said.
        advice: what it means for occ and what to do (empty when nothing to do).
    """

    name: str
    status: Status
    found: str
    advice: str = ""


def passed(name: str, found: str, advice: str = "") -> Check:
    """A passing check."""
    return Check(name, "pass", found, advice)


def warned(name: str, found: str, advice: str) -> Check:
    """A check that passes with a caveat worth knowing."""
    return Check(name, "warn", found, advice)


def failed(name: str, found: str, advice: str) -> Check:
    """A check that failed: occ cannot be trusted on this database until it is fixed."""
    return Check(name, "fail", found, advice)


def exit_status(checks: list[Check]) -> int:
    """1 when any check failed, else 0."""
    return 1 if any(c.status == "fail" for c in checks) else 0


def _summary(checks: list[Check]) -> str:
    counts = {s: sum(c.status == s for c in checks) for s in ("pass", "warn", "fail")}
    return f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed"


def plain_lines(title: str, checks: list[Check]) -> list[str]:
    """The checks as plain text: one line each, advice indented below."""
    lines = [title]
    width = max(len(c.name) for c in checks)
    for c in checks:
        lines.append(f"  {c.status.upper():<4}  {c.name:<{width}}  {c.found}")
        if c.advice:
            lines.append(f"        {'':<{width}}  -> {c.advice}")
    lines.append(_summary(checks))
    return lines


def render_table(title: str, checks: list[Check], console: Any) -> None:
    """Print the checks to a rich ``console`` as a table."""
    from rich.table import Table
    from rich.text import Text

    styles = {"pass": "green", "warn": "yellow", "fail": "bold red"}
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("")
    table.add_column("check")
    table.add_column("found")
    table.add_column("what it means / what to do")
    for c in checks:
        table.add_row(
            Text(c.status.upper(), style=styles[c.status]),
            Text(c.name),
            Text(c.found),
            Text(c.advice),
        )
    console.print(table)
    console.print(_summary(checks), markup=False, highlight=False)


def render_json(url: str, checks: list[Check]) -> str:
    """The checks as JSON text: ``{"url", "ok", "checks": [...]}``."""
    data = {"url": url, "ok": exit_status(checks) == 0, "checks": [asdict(c) for c in checks]}
    return json.dumps(data, indent=2)
