"""The ``sync`` and ``outbox`` records as Markdown tables, a plot and targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "markdown",
    "plot",
    "targets",
    "variant_markdown",
]

Record = dict[str, Any]

_BROKERS = ("redis", "rabbitmq", "nats")
_OUTBOX_SYSTEMS = ("occ", "occ_outbox", "occ_outbox_changes")
_BACKENDS = ("sqlite_memory", "sqlite", "mariadb", "postgresql", "mongo")


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float | int) else str(value)


def _pairs(records: list[Record]) -> dict[str, dict[str, Record]]:
    by: dict[str, dict[str, Record]] = {}
    for r in records:
        if r["workload"] == "sync":
            by.setdefault(r["broker"], {})[r["system"]] = r
    return by


def targets(records: list[Record]) -> list[tuple[str, str, float | None, str]]:
    """``sync occ/raw >= 0.5`` per broker: events per second through the whole pipeline."""
    out: list[tuple[str, str, float | None, str]] = []
    for broker, systems in sorted(_pairs(records).items(), key=lambda kv: _BROKERS.index(kv[0])):
        mine, raw = systems.get("occ"), systems.get("raw")
        if not mine or not raw or not mine["ops_per_s"] or not raw["ops_per_s"]:
            out.append(
                (
                    f"sync occ/raw >= 0.5 ({broker})",
                    mine["backend"] if mine else "-",
                    None,
                    "not measured",
                )
            )
            continue
        value = float(mine["ops_per_s"]) / float(raw["ops_per_s"])
        out.append(
            (
                f"sync occ/raw >= 0.5 ({broker})",
                mine["backend"],
                value,
                "met" if value >= 0.5 else "not met",
            )
        )
    return out


def markdown(records: list[Record]) -> list[str]:
    """The tables of the sync pipeline and of the outbox's cost on the write path."""
    lines: list[str] = []
    pairs = _pairs(records)
    if pairs:
        source = next(iter(next(iter(pairs.values())).values()))["backend"]
        lines += [
            f"### sync (outbox on {source} -> relay -> broker -> replica)",
            "",
            "| broker | system | events/s | x raw | lag p50 ms | lag p99 ms | offered/s | events |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for broker in _BROKERS:
            systems = pairs.get(broker, {})
            raw = systems.get("raw")
            for system in ("occ", "raw"):
                r = systems.get(system)
                if r is None:
                    continue
                ratio = r["ops_per_s"] / raw["ops_per_s"] if raw and raw["ops_per_s"] else None
                lines.append(
                    f"| {broker} | {system} | {_fmt(r['ops_per_s'])} | {_fmt(ratio, 2)} | "
                    f"{_fmt(r['p50_ms'], 1)} | {_fmt(r['p99_ms'], 1)} | "
                    f"{_fmt(r.get('offered_rate'))} | {_fmt(r['rows'])} |"
                )
        lines.append("")
    lines += variant_markdown(
        records, "outbox", "outbox on the write path (blind update)", _OUTBOX_SYSTEMS
    )
    return lines


def variant_markdown(
    records: list[Record], workload: str, title: str, systems: tuple[str, ...]
) -> list[str]:
    """A table of ``occ``'s blind update with repository options, against ``occ`` without."""
    cost = [r for r in records if r["workload"] == workload]
    if not cost:
        return []
    lines = [
        f"### {title}",
        "",
        "| backend | system | ops/s | x without | round trips/op | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    by = {(r["backend"], r["system"]): r for r in cost}
    for backend in _BACKENDS:
        base = by.get((backend, "occ"))
        for system in systems:
            r = by.get((backend, system))
            if r is None:
                continue
            ratio = r["ops_per_s"] / base["ops_per_s"] if base and base["ops_per_s"] else None
            lines.append(
                f"| {backend} | {system} | {_fmt(r['ops_per_s'])} | {_fmt(ratio, 2)} | "
                f"{_fmt(r['round_trips_per_op'], 2)} | {_fmt(r['p50_ms'], 3)} | "
                f"{_fmt(r['p99_ms'], 3)} |"
            )
    return [*lines, ""]


def plot(records: list[Record], out: Path) -> list[Path]:
    """``sync.png``: events per second and lag, occ against the raw broker, per broker."""
    pairs = _pairs(records)
    if not pairs:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    brokers = [b for b in _BROKERS if b in pairs]
    fig, (speed, lag) = plt.subplots(1, 2, figsize=(9, 3.4))
    width = 0.38
    for offset, system, color in ((-width / 2, "occ", "tab:green"), (width / 2, "raw", "tab:gray")):
        xs = [i + offset for i in range(len(brokers))]
        speed.bar(
            xs,
            [pairs[b].get(system, {}).get("ops_per_s") or 0 for b in brokers],
            width,
            label=system,
            color=color,
        )
        lag.bar(
            xs,
            [pairs[b].get(system, {}).get("p99_ms") or 0 for b in brokers],
            width,
            label=system,
            color=color,
        )
    for ax, title in (
        (speed, "events/s, whole pipeline (higher is better)"),
        (lag, "lag p99 ms at the offered rate (lower is better)"),
    ):
        ax.set_xticks(range(len(brokers)), brokers)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=8)
    lag.set_yscale("log")
    fig.tight_layout()
    path = out / "sync.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
