"""The demo report: a rich table side by side (occ vs the naive writer), plain text, or JSON."""

from __future__ import annotations

import json
from typing import Any

from occ._demo import DemoReport, SideReport

__all__ = ["plain_lines", "render_json", "render_table"]

_ROWS: tuple[tuple[str, str], ...] = (
    ("attempts", "writes sent"),
    ("conflicts", "conflicts"),
    ("retries", "retries"),
    ("merges", "merges"),
    ("discards", "discards"),
    ("alerts", "alerts"),
    ("committed", "increments committed"),
    ("total", "sum of counters"),
    ("lost_updates", "lost updates"),
)


def _verdict(side: SideReport) -> str:
    if side.checker_ok:
        return "clean"
    total = sum(side.anomalies.values())
    lost = side.anomalies.get("lost-update", 0)
    return f"{total} anomalies ({lost} lost-update)" if lost else f"{total} anomalies"


def _cells(side: SideReport | None) -> list[str]:
    if side is None:
        return ["-"] * (len(_ROWS) + 2)
    cells = [str(getattr(side, name)) for name, _ in _ROWS]
    return [*cells, _verdict(side), f"{side.seconds:.2f}s"]


def _summary(report: DemoReport) -> list[str]:
    o = report.options
    head = (
        f"occ demo on {report.url}: {o.writers} writers "
        f"({'tasks' if o.use_async else 'threads'}) x {o.ops} increments over {o.rows} hot rows, "
        f"policy {o.policy}"
    )
    occ = report.occ
    tail = [
        f"increments committed: {occ.committed} of {o.writers * o.ops}"
        + (f" ({occ.discards} discarded by the policy)" if occ.discards else "")
        + (f", {occ.gave_up} gave up" if occ.gave_up else ""),
    ]
    if report.naive is not None:
        tail.append(
            f"naive writer: {report.naive.committed} acknowledged, {report.naive.lost_updates} lost"
        )
    tail += [f"note: {note}" for note in report.notes]
    tail.append("verdict: " + ("no update lost" if report.ok else "UPDATES LOST"))
    return [head, *tail]


def plain_lines(report: DemoReport) -> list[str]:
    """The report as plain text lines (no rich needed)."""
    summary = _summary(report)
    labels = [label for _, label in _ROWS] + ["history check", "time"]
    occ_cells, naive_cells = _cells(report.occ), _cells(report.naive)
    width = max(len(label) for label in labels)
    rows = [f"  {'':<{width}}  {'occ':>14}  {'naive writer':>14}"]
    rows += [
        f"  {label:<{width}}  {a:>14}  {b:>14}"
        for label, a, b in zip(labels, occ_cells, naive_cells, strict=True)
    ]
    return [summary[0], *rows, *summary[1:]]


def render_table(report: DemoReport, console: Any) -> None:
    """Print the report to a rich ``console``: a table, then the verdict."""
    from rich.table import Table

    summary = _summary(report)
    table = Table(title=summary[0], title_justify="left")
    table.add_column("")
    table.add_column(f"occ ({report.options.policy})", justify="right")
    table.add_column("naive writer", justify="right")
    labels = [label for _, label in _ROWS] + ["history check", "time"]
    occ_cells, naive_cells = _cells(report.occ), _cells(report.naive)
    for label, a, b in zip(labels, occ_cells, naive_cells, strict=True):
        style = "bold red" if label == "lost updates" and b not in ("0", "-") else None
        table.add_row(label, a, b, style=style)
    console.print(table)
    for line in summary[1:]:
        color = "green" if report.ok else "red"
        console.print(
            f"[{color}]{line}[/]" if line.startswith("verdict") else line, highlight=False
        )


def render_json(report: DemoReport) -> str:
    """The report as JSON text."""
    return json.dumps(report.as_dict(), indent=2, sort_keys=True)
