"""The demo report: a rich table side by side (occ vs the naive writer), plain text, or JSON."""

from __future__ import annotations

import json
from typing import Any

from occ._cli._report import DemoReport, SideReport

__all__ = ["plain_lines", "render_json", "render_table"]

_ROWS = {
    "attempts": "writes sent",
    "conflicts": "conflicts",
    "retries": "retries",
    "merges": "merges",
    "discards": "discards",
    "alerts": "alerts",
    "committed": "increments committed",
    "total": "sum of counters",
    "lost_updates": "lost updates",
}


def _verdict(side: SideReport) -> str:
    if side.checker_ok:
        return "clean"
    total = sum(side.anomalies.values())
    lost = side.anomalies.get("lost-update", 0)
    return f"{total} anomalies ({lost} lost-update)" if lost else f"{total} anomalies"


def _column(side: SideReport | None) -> list[str]:
    if side is None:
        return ["-"] * (len(_ROWS) + 2)
    return [*(str(getattr(side, name)) for name in _ROWS), _verdict(side), f"{side.seconds:.2f}s"]


def _rows(report: DemoReport) -> list[tuple[str, str, str]]:
    """Each row of the table: its label, occ's cell, the naive writer's cell."""
    labels = [*_ROWS.values(), "history check", "time"]
    return list(zip(labels, _column(report.occ), _column(report.naive), strict=True))


def _summary(report: DemoReport) -> list[str]:
    o, occ, naive = report.options, report.occ, report.naive
    lines = [
        f"occ demo on {report.url}: {o.writers} writers "
        f"({'tasks' if o.use_async else 'threads'}) x {o.ops} increments over {o.rows} hot rows, "
        f"policy {o.policy}",
        f"increments committed: {occ.committed} of {o.increments}"
        + (f" ({occ.discards} discarded by the policy)" if occ.discards else "")
        + (f", {occ.gave_up} gave up" if occ.gave_up else ""),
    ]
    if naive is not None:
        lines.append(f"naive writer: {naive.committed} acknowledged, {naive.lost_updates} lost")
    lines += [f"note: {note}" for note in report.notes]
    return [*lines, "verdict: " + ("no update lost" if report.ok else "UPDATES LOST")]


def plain_lines(report: DemoReport) -> list[str]:
    """The report as plain text lines (no rich needed)."""
    head, *tail = _summary(report)
    rows = [("", "occ", "naive writer"), *_rows(report)]
    width = max(len(label) for label, _, _ in rows)
    return [head, *(f"  {label:<{width}}  {a:>14}  {b:>14}" for label, a, b in rows), *tail]


def render_table(report: DemoReport, console: Any) -> None:
    """Print the report to a rich ``console``: a table, then the verdict."""
    from rich.table import Table

    head, *tail = _summary(report)
    table = Table(title=head, title_justify="left")
    table.add_column("")
    table.add_column(f"occ ({report.options.policy})", justify="right")
    table.add_column("naive writer", justify="right")
    for label, a, b in _rows(report):
        style = "bold red" if label == "lost updates" and b not in ("0", "-") else None
        table.add_row(label, a, b, style=style)
    console.print(table)
    color = "green" if report.ok else "red"
    for line in tail:
        console.print(
            f"[{color}]{line}[/]" if line.startswith("verdict") else line, highlight=False
        )


def render_json(report: DemoReport) -> str:
    """The report as JSON text."""
    return json.dumps(report.as_dict(), indent=2, sort_keys=True)
