"""``python -m benchmarks.report``: render docs/performance.md and the README's performance
summary from benchmarks/results/*.json.

Every figure in both comes from a stored result of ``python -m benchmarks``; the page says when
each was measured and on what machine, because these machines are shared and noisy, and each
summary line names its result's date. tests/unit/test_benchmark_report.py checks that both
match the stored results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS_DIR, Row, markdown_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN = "<!-- performance: rendered by `python -m benchmarks.report` from benchmarks/results -->"
END = "<!-- /performance -->"

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


def _results(results_dir: Path) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(results_dir.glob("*.json"))]
    return sorted((r for r in found if not r.get("quick")), key=lambda r: r["when"], reverse=True)


def _newest(
    results: list[dict[str, Any]], section: str, *variants: str
) -> tuple[list[dict[str, Any]], str]:
    """Return the rows ``variants`` of ``section`` from the newest result holding them all."""
    for result in results:
        rows = {r["variant"]: r for r in result["sections"].get(section, [])}
        if all(v in rows for v in variants):
            return [rows[v] for v in variants], result["when"][:10]
    raise LookupError(
        f"no stored result has {variants!r} in a section {section!r}: run the benchmark, or fix "
        "the summary in benchmarks/report.py"
    )


def readme_summary(results_dir: Path = RESULTS_DIR) -> str:
    """Return the README's performance lines, every figure read from the stored results."""
    from benchmarks.bench_backfill import (
        CONNECT_BATCH,
        CONNECT_PER_DATE,
        SUBMIT_PER_DATE,
        SUBMIT_PER_DATE_APPS,
    )
    from benchmarks.bench_report import REPORT_STEP

    results = _results(results_dir)
    bare, task = "bare spark-submit", "ExternalSparkScriptTask"
    (b, e), when = _newest(results, "local[2]", bare, task)
    (bs, es), _ = _newest(results, "standalone (1 worker, 2 cores)", bare, task)
    lines = [
        f"- the Spark task costs {e['median_s'] / b['median_s']:.2f}x a bare `spark-submit` of the "
        f"same script on `local[2]` ({es['median_s'] / bs['median_s']:.2f}x on a standalone "
        f"cluster), {e['outside_spark_submit_median_s']:.2f} s of its own (measured {when});"
    ]
    (bulk, each), when = _newest(
        results, "365 dates", "bulk complete_dates (1 listing)", "S3DatedTarget.exists() per date"
    )
    lines.append(
        f"- bulk completeness answers 365 dates of an S3 dataset with {bulk['requests']} listing "
        f"request{'' if bulk['requests'] == 1 else 's'} instead of {each['requests']}, one per "
        f"date (measured {when});"
    )
    (apps, one), when = _newest(results, "365 missing dates", SUBMIT_PER_DATE_APPS, SUBMIT_PER_DATE)
    lines.append(
        f"- `SparkBackfill` fills 365 missing dates in {one['median_s']:.0f} s where `RangeDaily` "
        f"with one `spark-submit` per date takes {apps['median_s'] / 60:.1f} min (measured {when});"
    )
    (sub, con), when = _newest(results, "365 missing dates", SUBMIT_PER_DATE, CONNECT_PER_DATE)
    lines.append(
        f"- the same backfill, per-date `main` alike, through a warm Spark Connect server: "
        f"{con['median_s']:.0f} s against {sub['median_s']:.0f} s submitted "
        f"({con['median_s'] / sub['median_s']:.2f}x, measured {when});"
    )
    (batch,), when = _newest(results, "365 missing dates", CONNECT_BATCH)
    lines.append(
        f"- with the script's `main_batch` (one job for every date, which only Connect mode "
        f"runs) it takes {batch['median_s']:.1f} s (measured {when});"
    )
    section = "cold `luigi-ufo run` on ufon_raw_2019-03-21.csv.gz, per stage"
    cold_label = "luigi-ufo run, end to end (process wall)"
    warm_label = "luigi-ufo run, warm server (connect mode, luigi-ufo db up)"
    (cold, warm), when = _newest(results, section, cold_label, warm_label)
    lines.append(
        f"- `luigi-ufo run` on the primary NUFORC file takes {cold['median_s']:.1f} s cold on 2 "
        f"cores, {warm['median_s']:.1f} s with a warm Connect server (measured {when});"
    )
    (report,), when = _newest(results, "report step", REPORT_STEP)
    lines.append(
        f"- the HTML report of a run costs {report['cpu_median_s']:.2f} s of CPU on the primary "
        f"file ({report['median_s']:.1f} s wall on a loaded machine), and the `report` extra "
        f"installs {report['install_mb']:.0f} MB (measured {when})."
    )
    return "\n".join(lines)


def readme_block(text: str) -> str:
    """Return the README's rendered performance block (between the markers) of ``text``."""
    if BEGIN not in text or END not in text:
        raise LookupError(f"README.md lacks the markers {BEGIN!r} and {END!r}")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("--output", type=Path, default=DOC)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    args.output.write_text(render(), encoding="utf-8")
    print(f"wrote {args.output}")
    text = args.readme.read_text(encoding="utf-8")
    readme_block(text)  # the markers are there
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    rendered = f"{before}{BEGIN}\n{readme_summary()}\n{END}{after}"
    args.readme.write_text(rendered, encoding="utf-8")
    print(f"wrote the performance summary of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
