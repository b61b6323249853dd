"""Results per (dataset, scenario, connections, variant): Markdown tables and a JSON file."""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load import Measurement


@dataclass
class Row:
    dataset: str
    scenario: str
    label: str
    connections: int
    variant: str  # "" for the plain service; "limiter" for the run with the Redis limiter on
    service: list[Measurement] = field(default_factory=list)
    reference: list[Measurement] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "scenario": self.scenario,
            "label": self.label,
            "connections": self.connections,
            "variant": self.variant,
            "service": summary(self.service),
            "reference": summary(self.reference),
            "ratio_rps": ratio(self.service, self.reference, "rps"),
            "ratio_p99": ratio(self.service, self.reference, "p99_ms"),
            "runs": {
                "service": [m.as_dict() for m in self.service],
                "reference": [m.as_dict() for m in self.reference],
            },
            "alongside": self.extra,  # logins: /health latency and memory, per app
        }


def summary(runs: list[Measurement]) -> dict[str, float] | None:
    """Mean req/s and latencies over the runs (A B A B: two each); errors summed."""
    if not runs:
        return None
    return {
        "rps": round(statistics.fmean(m.rps for m in runs), 1),
        "p50_ms": round(statistics.fmean(m.p50_ms for m in runs), 2),
        "p99_ms": round(statistics.fmean(m.p99_ms for m in runs), 2),
        "max_ms": round(max(m.max_ms for m in runs), 2),
        "errors": sum(m.errors for m in runs),
        "timeouts": sum(m.timeouts for m in runs),
        "requests": sum(m.requests for m in runs),
        "stalled": any(m.requests == 0 for m in runs),  # not one answer in a whole run
        "cpu_ms": _mean_cpu(runs),
    }


def _mean_cpu(runs: list[Measurement]) -> float | None:
    values = [m.cpu_ms for m in runs if m.cpu_ms is not None]
    return round(statistics.fmean(values), 3) if values else None


def ratio(service: list[Measurement], reference: list[Measurement], key: str) -> float | None:
    a, b = summary(service), summary(reference)
    if not a or not b or not b[key]:
        return None
    return round(a[key] / b[key], 2)


def _cell(value: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _errors(summary: dict[str, Any]) -> str:
    if not summary:
        return "-"
    return "STALLED" if summary["stalled"] else f"{summary['errors']:,}"


def table(rows: list[Row]) -> str:
    """A Markdown table: service and reference side by side."""
    lines = [
        "| dataset | endpoint | conns | service req/s | p50 ms | p99 ms | errors "
        "| reference req/s | p50 ms | p99 ms | errors | req/s ratio | p99 ratio "
        "| CPU ms/req service / reference |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        s, r = summary(row.service) or {}, summary(row.reference) or {}
        name = row.label + (f" ({row.variant})" if row.variant else "")
        lines.append(
            f"| {row.dataset} | {name} | {row.connections} "
            f"| {_cell(s.get('rps'))} | {_cell(s.get('p50_ms'), '{:.1f}')} "
            f"| {_cell(s.get('p99_ms'), '{:.1f}')} | {_errors(s)} "
            f"| {_cell(r.get('rps'))} | {_cell(r.get('p50_ms'), '{:.1f}')} "
            f"| {_cell(r.get('p99_ms'), '{:.1f}')} | {_errors(r)} "
            f"| {_cell(ratio(row.service, row.reference, 'rps'), '{:.2f}')} "
            f"| {_cell(ratio(row.service, row.reference, 'p99_ms'), '{:.2f}')} "
            f"| {_cell(s.get('cpu_ms'), '{:.2f}')} / {_cell(r.get('cpu_ms'), '{:.2f}')} |"
        )
    return "\n".join(lines)


def login_table(rows: list[Row]) -> str:
    lines = [
        "| dataset | app | conns | logins/s | p50 ms | p99 ms | errors "
        "| /health p99 ms alongside | peak RSS MiB |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        for app, runs in (("service", row.service), ("reference", row.reference)):
            s = summary(runs)
            if not s:
                continue
            extra = row.extra.get(app, {})
            lines.append(
                f"| {row.dataset} | {app} | {row.connections} | {s['rps']:.1f} "
                f"| {s['p50_ms']:.0f} | {s['p99_ms']:.0f} | {s['errors']} "
                f"| {_cell(extra.get('health_p99_ms'), '{:.1f}')} "
                f"| {_cell(extra.get('peak_rss_mib'), '{:.0f}')} |"
            )
    return "\n".join(lines)


def save(path: Path, meta: dict[str, Any], rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "results": [row.as_dict() for row in rows]}
    path.write_text(json.dumps(document, indent=2) + "\n")


def load(path: Path) -> list[Row]:
    """The rows of a saved JSON file."""
    rows = []
    for entry in json.loads(path.read_text())["results"]:
        row = Row(entry["dataset"], entry["scenario"], entry["label"], entry["connections"],
                  entry["variant"])  # fmt: skip
        row.service = [Measurement(**m) for m in entry["runs"]["service"]]
        row.reference = [Measurement(**m) for m in entry["runs"]["reference"]]
        # "alongside" (older files: the apps' own keys) holds what logins measured beside
        row.extra = entry.get("alongside") or {
            app: entry[app]
            for app in ("service", "reference")
            if "peak_rss_mib" in (entry.get(app) or {})
        }
        rows.append(row)
    return rows


if __name__ == "__main__":  # python -m bench.report bench/results/latest.json
    for saved in sys.argv[1:]:
        everything = load(Path(saved))
        print(table([r for r in everything if r.scenario != "login"]))  # noqa: T201
        logins = [r for r in everything if r.scenario == "login"]
        if logins:
            print("\n" + login_table(logins))  # noqa: T201
