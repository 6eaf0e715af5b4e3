"""Aggregation at scale: generated NUFORC-shaped CSV at 1 M and 10 M rows.

The Spark aggregation stage (``aggregate_by_state.py`` through spark-submit on local[2]) against
DuckDB's ``GROUP BY`` over the same file (baseline) and ``cat file > /dev/null`` as the physical
floor. Every variant's counts are checked against what the generator wrote.
"""

from __future__ import annotations

import csv
import subprocess
import time
from collections import Counter
from pathlib import Path

from benchmarks._common import Row
from benchmarks._ufo import SCRIPTS, duckdb_r1, fresh_dir, remove, sample_file, spark_submit
from luigi_ufo.ufo.tasks import SMALL_JOB_CONF

NAME = "aggregation"
TITLE = "Aggregation at scale: Spark stage vs DuckDB GROUP BY vs cat (local[2])"


def _rates(row: Row, size: int, rows: int, seconds: float | None = None) -> Row:
    sec = seconds if seconds is not None else row.median
    row.extra["MB/s"] = size / 1e6 / sec
    row.extra["rows/s"] = rows / sec
    return row


def _read_states(directory: Path) -> Counter[str]:
    (part,) = directory.glob("part-*.csv")
    with part.open(encoding="utf-8", newline="") as fh:
        return Counter({s: int(n) for s, n in list(csv.reader(fh))[1:]})


def _section(rows: int, runs: int, work: Path) -> list[Row]:
    path, expected, _ = sample_file(rows)
    size = path.stat().st_size
    out: list[Row] = []

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        counts = duckdb_r1(path)
        samples.append(time.perf_counter() - start)
    duck = Row("DuckDB read_csv + GROUP BY (in process)", samples, baseline=True)
    duck.extra["correct"] = "yes" if counts == expected else "NO"
    out.append(_rates(duck, size, rows))

    walls, jobs, correct = [], [], True
    for i in range(runs):
        target = work / f"{rows}-{i}"
        args = ["--input", str(path), "--output", str(target / "s")]
        wall, job, _ = spark_submit(
            SCRIPTS / "aggregate_by_state.py",
            [*args, "--rejected-output", str(target / "r")],
            SMALL_JOB_CONF,
        )
        walls.append(wall)
        jobs.append(job)
        correct = correct and _read_states(target / "s") == expected
        remove(target)
    spark = Row("spark-submit aggregate_by_state.py (process wall)", walls)
    spark.extra["correct"] = "yes" if correct else "NO"
    out.append(_rates(spark, size, rows))
    job = Row("  its Spark job time alone", jobs)
    out.append(_rates(job, size, rows))

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        with path.open("rb") as fh:
            subprocess.run(["cat"], stdin=fh, stdout=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    out.append(_rates(Row("cat file > /dev/null (floor)", samples), size, rows))
    for row in out:
        row.extra["file_MB"] = size / 1e6
    return out


def run(quick: bool) -> dict[str, list[Row]]:
    """Measure each size; quick mode uses 20,000 rows and one run."""
    sizes = [20_000] if quick else [1_000_000, 10_000_000]
    runs = 1 if quick else 5
    work = fresh_dir("luigi-ufo-bench-aggregation-")
    try:
        return {f"{n:,} generated rows (plain CSV)": _section(n, runs, work) for n in sizes}
    finally:
        remove(work)
