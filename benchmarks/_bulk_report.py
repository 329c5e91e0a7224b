"""The ``bulk`` workload's table, plot and targets (see :mod:`benchmarks._bulk`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

__all__ = ["bulk_markdown", "bulk_plot", "bulk_targets"]

Record = dict[str, Any]

BACKEND_ORDER = ("sqlite_memory", "sqlite", "mariadb", "postgresql", "mongo")
SYSTEM_ORDER = ("occ", "occ_loop", "dbapi", "orm_bulk", "pymongo")
#: the raw driver's batch on each backend.
RAW = {"mongo": "pymongo"}


def _cells(records: list[Record]) -> dict[str, dict[int, dict[str, Record]]]:
    """backend -> N -> system -> record."""
    by: dict[str, dict[int, dict[str, Record]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        if r["workload"] == "bulk":
            by[r["backend"]][r["rows"]][r["system"]] = r
    return by


def _ratio(cell: dict[str, Record], system: str, other: str) -> float | None:
    a, b = cell.get(system), cell.get(other)
    if not a or not b or not a["ops_per_s"] or not b["ops_per_s"]:
        return None
    return float(a["ops_per_s"]) / float(b["ops_per_s"])


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def bulk_targets(records: list[Record]) -> list[tuple[str, str, float | None, str]]:
    """The goals of the bulk workload: (target, backend, value, verdict)."""
    out: list[tuple[str, str, float | None, str]] = []

    def add(target: str, backend: str, value: float | None, met: bool) -> None:
        verdict = "not measured" if value is None else ("met" if met else "not met")
        out.append((target, backend, value, verdict))

    by = _cells(records)
    for backend in BACKEND_ORDER:
        sizes = by.get(backend)
        if not sizes:
            continue
        if backend in ("mariadb", "postgresql"):
            value = _ratio(sizes.get(100, {}), "occ", "occ_loop")
            add("bulk occ/occ_loop >= 10 (N=100)", backend, value, (value or 0) >= 10)
        raw = RAW.get(backend, "dbapi")
        for n in sorted(sizes):
            value = _ratio(sizes[n], "occ", raw)
            add(f"bulk occ/{raw} >= 1 (N={n})", backend, value, (value or 0) >= 1)
        trips = [
            sizes[n]["occ"]["round_trips_per_batch"]
            for n in sorted(sizes)
            if "occ" in sizes[n] and sizes[n]["occ"].get("round_trips_per_batch") is not None
        ]
        if trips:
            add(
                "bulk round trips per batch constant in N",
                backend,
                float(max(trips)),
                len(set(trips)) == 1,
            )
    return out


def bulk_markdown(records: list[Record]) -> list[str]:
    by = _cells(records)
    if not by:
        return []
    lines = [
        "### bulk (N rows per batch; rows/s, round trips and latency per batch)",
        "",
        "| backend | N | system | rows/s | x occ_loop | x raw | round trips/batch "
        "| p50 ms | p99 ms |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for backend in BACKEND_ORDER:
        for n, cell in sorted(by.get(backend, {}).items()):
            raw = RAW.get(backend, "dbapi")
            for system in SYSTEM_ORDER:
                r = cell.get(system)
                if r is None:
                    continue
                lines.append(
                    f"| {backend} | {n} | {system} | {_fmt(r['ops_per_s'])} | "
                    f"{_fmt(_ratio(cell, system, 'occ_loop'), 1)} | "
                    f"{_fmt(_ratio(cell, system, raw), 2)} | "
                    f"{_fmt(r.get('round_trips_per_batch'), 1)} | {_fmt(r['p50_ms'], 2)} | "
                    f"{_fmt(r['p99_ms'], 2)} |"
                )
    lines.append("")
    return lines


def bulk_plot(records: list[Record], out: Path) -> list[Path]:
    """Rows per second against N, one panel per backend, one line per system."""
    by = _cells(records)
    backends = [b for b in BACKEND_ORDER if b in by]
    if not backends:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(backends), figsize=(3.2 * len(backends), 3.4), squeeze=False)
    for ax, backend in zip(axes[0], backends, strict=True):
        sizes = by[backend]
        for system in SYSTEM_ORDER:
            pts = [
                (n, sizes[n][system]["ops_per_s"])
                for n in sorted(sizes)
                if system in sizes[n] and sizes[n][system]["ops_per_s"]
            ]
            if pts:
                style = {"linewidth": 2.2} if system == "occ" else {"linewidth": 1}
                ax.plot(*zip(*pts, strict=True), marker="o", label=system, **style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(backend, fontsize=9)
        ax.set_xlabel("rows per batch (N)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("rows/s", fontsize=8)
    fig.suptitle("bulk versioned update (higher is better)", fontsize=10)
    fig.tight_layout()
    path = out / "bulk.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
