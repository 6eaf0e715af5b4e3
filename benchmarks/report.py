"""``python -m benchmarks.report``: render docs/performance.md from benchmarks/results/*.json.

Every figure in the page comes from a stored result of ``python -m benchmarks``; the page says
when each was measured and on what machine, because these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS_DIR, Row, markdown_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"

HEADER = """# Performance

Measured with `python -m benchmarks` (all benchmarks) or `python -m benchmarks --only NAME`;
this page is rendered from `benchmarks/results/*.json` by `python -m benchmarks.report`.
Times are medians of repeated runs in seconds; *ratio* is each median over the section's
baseline median, measured in the same run. The machines are shared, 2-core and noisy: read the
ratios, not the absolute times.
"""


def _rows(raw: list[dict[str, Any]]) -> list[Row]:
    return [
        Row(r["variant"], list(r["samples"]), dict(r.get("extra", {})), bool(r["baseline"]))
        for r in raw
    ]


def _machine(m: dict[str, Any]) -> str:
    mem = f"{m['mem_total_kb'] / 1024 / 1024:.0f} GiB" if m.get("mem_total_kb") else "?"
    return (
        f"{m.get('cores')} cores, {mem}, Python {m.get('python')}, {m.get('java')}, "
        f"pyspark {m.get('pyspark')}, luigi {m.get('luigi')}, "
        f"{m.get('postgres') or 'no PostgreSQL'}"
    )


def render(results_dir: Path = RESULTS_DIR) -> str:
    """Return the Markdown page for every full (non-quick) result in ``results_dir``."""
    parts = [HEADER]
    for path in sorted(results_dir.glob("*.json")):
        if path.name.endswith(".quick.json"):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        parts.append(f"## {data['title']}\n")
        knobs = "".join(f"{k}={v} " for k, v in data.get("env", {}).items())
        parts.append(
            f"`{knobs}python -m benchmarks --only {data['name']}`, measured {data['when']} on "
            f"{_machine(data['machine'])}.\n"
        )
        for section, raw in data["sections"].items():
            parts.append(f"### {section}\n\n{markdown_table(_rows(raw))}\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("--output", type=Path, default=DOC)
    args = parser.parse_args(argv)
    args.output.write_text(render(), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
