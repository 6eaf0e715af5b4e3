"""Timing, statistics, machine facts and report writing shared by every benchmark."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class Row:
    """One measured variant: wall-time samples plus any extra numbers (requests, rows/s, ...)."""

    variant: str
    samples: list[float]
    extra: dict[str, Any] = field(default_factory=dict)
    baseline: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def summary(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "runs": len(self.samples),
            "median_s": self.median,
            "min_s": min(self.samples),
            "max_s": max(self.samples),
            "baseline": self.baseline,
            **self.extra,
        }


def repeat(fn: Callable[[], Any], runs: int, warmup: int = 0) -> tuple[list[float], Any]:
    """Call ``fn`` ``warmup + runs`` times; return the timed samples and the last result."""
    result: Any = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return samples, result


def _version(cmd: list[str]) -> str:
    exe = shutil.which(cmd[0])
    if exe is None:
        return "not found"
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def machine_facts() -> dict[str, Any]:
    """Cores, memory, Python, Java, pyspark and PostgreSQL versions of this machine."""
    facts: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "java": _version(["java", "-version"]),
    }
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            facts["mem_total_kb"] = int(fh.readline().split()[1])
    except OSError:
        facts["mem_total_kb"] = None
    for module in ("pyspark", "luigi", "psycopg2", "boto3", "moto", "duckdb"):
        try:
            facts[module] = __import__(module).__version__
        except Exception:  # a missing optional package is a fact, not a failure
            facts[module] = None
    try:
        from luigi_ufo.services.postgres import find_bindir

        bindir = find_bindir()
        facts["postgres"] = _version([str(bindir / "postgres"), "--version"]) if bindir else None
    except Exception:  # no PostgreSQL binaries is a fact too
        facts["postgres"] = None
    return facts


def markdown_table(rows: list[Row], columns: list[str] | None = None) -> str:
    """Render rows with median/min/max and the ratio of each median to the baseline's."""
    base = next((r for r in rows if r.baseline), rows[0])
    extra_cols = columns or sorted({k for r in rows for k in r.extra})
    head = ["variant", "runs", "median s", "min s", "max s", "ratio", *extra_cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ratio = r.median / base.median if base.median else float("nan")
        cells = [
            r.variant + (" (baseline)" if r is base else ""),
            str(len(r.samples)),
            f"{r.median:.3f}",
            f"{min(r.samples):.3f}",
            f"{max(r.samples):.3f}",
            f"{ratio:.2f}x",
            *(_fmt(r.extra.get(c)) for c in extra_cols),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_result(
    name: str,
    title: str,
    sections: dict[str, list[Row]],
    quick: bool,
    results_dir: Path = RESULTS_DIR,
) -> Path:
    """Write ``<results_dir>/<name>.json`` (quick runs go to ``<name>.quick.json``)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / (f"{name}.quick.json" if quick else f"{name}.json")
    payload = {
        "name": name,
        "title": title,
        "quick": quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_facts(),
        # The benchmarks' own knobs (run counts, size limits) as set for this run.
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("LUIGI_UFO_BENCH_")},
        "sections": {k: [asdict(r) | r.summary() for r in v] for k, v in sections.items()},
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path
