"""The results as JSON, a Markdown table and PNG plots."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks import _sync_report
from benchmarks._bulk_report import bulk_markdown, bulk_plot, bulk_targets

__all__ = ["ratios", "write_all"]

Record = dict[str, Any]

BACKEND_ORDER = ("sqlite_memory", "sqlite", "mariadb", "postgresql", "mongo")
SYSTEM_ORDER = (
    "occ",
    "occ_nolock",
    "occ_increment",
    "dbapi",
    "core",
    "core_cached",
    "orm",
    "pessimistic",
    "pymongo",
    "beanie",
)


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _single(records: list[Record], workload: str) -> dict[str, dict[str, Record]]:
    by: dict[str, dict[str, Record]] = defaultdict(dict)
    for r in records:
        if r["workload"] == workload:
            by[r["backend"]][r["system"]] = r
    return by


def ratios(records: list[Record]) -> list[tuple[str, str, float | None, str]]:
    """The targets of the project: (target, backend, measured ratio or value, 'met'/'not met')."""
    out: list[tuple[str, str, float | None, str]] = []

    def ratio(workload: str, backend: str, system: str, other: str) -> float | None:
        rows = _single(records, workload).get(backend, {})
        a, b = rows.get(system), rows.get(other)
        if not a or not b or not a["ops_per_s"] or not b["ops_per_s"]:
            return None
        return float(a["ops_per_s"]) / float(b["ops_per_s"])

    def cpu_ratio(workload: str, backend: str, system: str, other: str) -> float | None:
        rows = _single(records, workload).get(backend, {})
        a, b = rows.get(system), rows.get(other)
        if not a or not b or not a.get("cpu_us_per_op") or not b.get("cpu_us_per_op"):
            return None
        return float(b["cpu_us_per_op"]) / float(a["cpu_us_per_op"])

    def add(target: str, backend: str, value: float | None, goal: float) -> None:
        if value is None:
            out.append((target, backend, None, "not measured"))
        else:
            out.append((target, backend, value, "met" if value >= goal else "not met"))

    for backend in ("mariadb", "postgresql"):
        add(
            "blind update occ/dbapi >= 0.9",
            backend,
            ratio("blind_update", backend, "occ", "dbapi"),
            0.9,
        )
        add("blind update occ/orm >= 3", backend, ratio("blind_update", backend, "occ", "orm"), 3.0)
    for backend in ("sqlite_memory",):
        add("blind update occ/orm >= 3", backend, ratio("blind_update", backend, "occ", "orm"), 3.0)
    add(
        "blind update occ/core_cached >= 1",
        "sqlite_memory",
        ratio("blind_update", "sqlite_memory", "occ", "core_cached"),
        1.0,
    )
    add(
        "blind update occ/dbapi >= 0.5 (aim)",
        "sqlite_memory",
        ratio("blind_update", "sqlite_memory", "occ", "dbapi"),
        0.5,
    )
    for other, goal in (("core_cached", 1.0), ("dbapi", 0.5)):
        add(
            f"blind update occ/{other} by CPU time >= {goal:g}",
            "sqlite_memory",
            cpu_ratio("blind_update", "sqlite_memory", "occ", other),
            goal,
        )
    add("mongo occ/pymongo >= 0.9", "mongo", ratio("blind_update", "mongo", "occ", "pymongo"), 0.9)
    add(
        "mongo occ/beanie > 1", "mongo", ratio("blind_update", "mongo", "occ", "beanie"), 1.0 + 1e-9
    )
    for workload, goal in (("blind_update", 1.0), ("read_modify_write", 2.0)):
        for backend, systems in _single(records, workload).items():
            occ_rec = systems.get("occ")
            if occ_rec is None or occ_rec["round_trips_per_op"] is None:
                continue
            rt = float(occ_rec["round_trips_per_op"])
            out.append(
                (
                    f"{workload} round trips == {goal:g}",
                    backend,
                    rt,
                    "met" if rt == goal else "not met",
                )
            )
    cont = [r for r in records if r["workload"] == "contention"]
    cells = {(r["backend"], r["writers"], r["rows"], r["system"]): r for r in cont}
    order = sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1], kv[0][3]))
    for (backend, writers, rows, system), rec in order:
        if system != "occ" or writers > 4 * rows:
            continue
        locked = cells.get((backend, writers, rows, "pessimistic"))
        if locked is None or not locked["ops_per_s"]:
            continue
        value = float(rec["ops_per_s"]) / float(locked["ops_per_s"])
        add(f"contention goodput occ/pessimistic >= 1 (K={writers}, H={rows})", backend, value, 1.0)
    return out + bulk_targets(records) + _sync_report.targets(records)


def _sweep_markdown(cont: list[Record], title: str) -> list[str]:
    if not cont:
        return []
    lines = [
        f"### {title}",
        "",
        "| backend | K | H | system | goodput/s | conflicts | retries | p50 ms | p99 ms | note |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(
        cont,
        key=lambda r: (BACKEND_ORDER.index(r["backend"]), r["rows"], r["writers"], r["system"]),
    ):
        lines.append(
            f"| {r['backend']} | {r['writers']} | {r['rows']} | {r['system']} | "
            f"{_fmt(r['ops_per_s'])} | {r['conflicts']} | {r['retries']} | "
            f"{_fmt(r['p50_ms'], 2)} | {_fmt(r['p99_ms'], 2)} | {r.get('note') or ''} |"
        )
    return [*lines, ""]


def _construction_markdown(records: list[Record]) -> list[str]:
    by = _single(records, "construction")
    if not by:
        return []
    lines = [
        "### construction (a repository per request)",
        "",
        "| backend | system | µs per construction | x `Session()` |",
        "|---|---|---:|---:|",
    ]
    for backend in BACKEND_ORDER:
        systems = by.get(backend, {})
        session = systems.get("orm_session")
        for name in ("occ", "orm_session"):
            r = systems.get(name)
            if r is None or not r["ops_per_s"]:
                continue
            ref = session["ops_per_s"] if session else None
            rel = ref / r["ops_per_s"] if ref else None
            lines.append(
                f"| {backend} | {name} | {_fmt(1e6 / r['ops_per_s'], 1)} | {_fmt(rel, 2)} |"
            )
    return [*lines, ""]


def markdown(records: list[Record], meta: dict[str, Any]) -> str:
    lines = [f"Run: {meta.get('mode')} mode, {meta.get('when')}, {meta.get('machine')}", ""]
    for workload in ("blind_update", "read_modify_write"):
        by = _single(records, workload)
        if not by:
            continue
        lines += [
            f"### {workload}",
            "",
            "| backend | system | ops/s | x raw | CPU us/op | x raw CPU | round trips/op "
            "| p50 ms | p99 ms | note |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for backend in BACKEND_ORDER:
            systems = by.get(backend, {})
            ref_rec = systems.get("dbapi") or systems.get("pymongo")
            ref = ref_rec["ops_per_s"] if ref_rec else None
            for system in SYSTEM_ORDER:
                r = systems.get(system)
                if r is None:
                    continue
                rel = (r["ops_per_s"] / ref) if ref and r["ops_per_s"] else None
                cpu, ref_cpu = r.get("cpu_us_per_op"), ref_rec and ref_rec.get("cpu_us_per_op")
                rel_cpu = ref_cpu / cpu if cpu and ref_cpu else None
                lines.append(
                    f"| {backend} | {system} | {_fmt(r['ops_per_s'])} | {_fmt(rel, 2)} | "
                    f"{_fmt(cpu, 1)} | {_fmt(rel_cpu, 2)} | "
                    f"{_fmt(r['round_trips_per_op'], 2)} | {_fmt(r['p50_ms'], 3)} | "
                    f"{_fmt(r['p99_ms'], 3)} | {r.get('note') or ''} |"
                )
        lines.append("")
    for workload, title in (
        ("contention", "contention (K writers over H rows, increments until success)"),
        ("transfer", "transfer (K writers moving units between two of H accounts)"),
    ):
        lines += _sweep_markdown([r for r in records if r["workload"] == workload], title)
    for r in (r for r in records if r["workload"] == "soak"):
        lines += [
            "### soak",
            "",
            f"{r['ops']:,} `occ` writes on {r['backend']}: {_fmt(r['ops_per_s'])} ops/s, "
            f"{_fmt(r['round_trips_per_op'], 2)} round trips/op, p50 {_fmt(r['p50_ms'], 3)} ms, "
            f"p99 {_fmt(r['p99_ms'], 3)} ms; resident memory {r.get('rss_start_mb')} MB after "
            f"the first tenth, {r.get('rss_end_mb')} MB at the end; peak "
            f"{r.get('peak_rss_start_mb')} MB → {r['peak_rss_mb']} MB.",
            "",
        ]
    lines += _construction_markdown(records)
    lines += _sync_report.variant_markdown(
        records, "tokens", "write tokens on the write path (blind update)", ("occ", "occ_tokens")
    )
    lines += bulk_markdown(records)
    lines += _sync_report.markdown(records)
    lines += ["### targets", "", "| target | backend | measured | |", "|---|---|---:|---|"]
    for target, backend, value, verdict in ratios(records):
        lines.append(f"| {target} | {backend} | {_fmt(value, 2)} | {verdict} |")
    return "\n".join(lines) + "\n"


def plots(records: list[Record], out: Path) -> list[Path]:
    """Bar charts of ops/s relative to the raw driver, and goodput under contention."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    for workload in ("blind_update", "read_modify_write"):
        by = _single(records, workload)
        backends = [b for b in BACKEND_ORDER if b in by]
        if not backends:
            continue
        fig, axes = plt.subplots(
            1, len(backends), figsize=(3.2 * len(backends), 3.4), squeeze=False
        )
        for ax, backend in zip(axes[0], backends, strict=True):
            systems = by[backend]
            ref_rec = systems.get("dbapi") or systems.get("pymongo")
            names = [s for s in SYSTEM_ORDER if s in systems and systems[s]["ops_per_s"]]
            ref = ref_rec["ops_per_s"] if ref_rec and ref_rec["ops_per_s"] else 1.0
            values = [systems[s]["ops_per_s"] / ref for s in names]
            colors = ["tab:green" if s == "occ" else "tab:gray" for s in names]
            ax.bar(names, values, color=colors)
            ax.axhline(1.0, color="black", linewidth=0.6)
            ax.set_title(backend, fontsize=9)
            ax.tick_params(axis="x", labelrotation=60, labelsize=7)
            ax.tick_params(axis="y", labelsize=7)
        axes[0][0].set_ylabel("ops/s ÷ raw driver", fontsize=8)
        fig.suptitle(f"{workload} (higher is better)", fontsize=10)
        fig.tight_layout()
        path = out / f"{workload}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    cont = [r for r in records if r["workload"] == "contention"]
    if cont:
        backends = [b for b in BACKEND_ORDER if any(r["backend"] == b for r in cont)]
        hs = sorted({r["rows"] for r in cont})
        fig, axes = plt.subplots(
            len(backends), len(hs), figsize=(3.2 * len(hs), 2.8 * len(backends)), squeeze=False
        )
        for i, backend in enumerate(backends):
            for j, h in enumerate(hs):
                ax = axes[i][j]
                for system in sorted({r["system"] for r in cont}):
                    pts = sorted(
                        (r["writers"], r["ops_per_s"] or 0.0)
                        for r in cont
                        if r["backend"] == backend and r["rows"] == h and r["system"] == system
                    )
                    if pts:
                        ax.plot(*zip(*pts, strict=True), marker="o", label=system)
                ax.set_xscale("log", base=2)
                ax.set_title(f"{backend}, H={h} rows", fontsize=9)
                ax.set_xlabel("writers K", fontsize=8)
                ax.tick_params(labelsize=7)
                ax.legend(fontsize=7)
            axes[i][0].set_ylabel("goodput (ops/s)", fontsize=8)
        fig.tight_layout()
        path = out / "contention.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written + bulk_plot(records, out)


def write_all(records: list[Record], meta: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    (out / "latest.md").write_text(markdown(records, meta))
    written = plots(records, out) + _sync_report.plot(records, out)
    return [out / "latest.json", out / "latest.md", *written]
