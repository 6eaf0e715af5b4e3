"""Backfill: 30 and 365 missing dates of AggregateUFOsByState on small dated inputs (local[2]).

(a) Luigi-contrib style: ``RangeDaily --of AggregateUFOsByState --workers 2``, one spark-submit
(one JVM, one SparkSession) per date; (b) one Spark application for all dates, calling the
script's ``main(argv, spark)`` per date with a shared session (``spark/backfill_batch.py``).
Both write the same dated outputs; each run starts from a lake with only the raw partitions.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import Row
from benchmarks._ufo import fresh_dir, remove, sample_file, spark_submit
from luigi_ufo.dated import dated_target
from luigi_ufo.ufo.tasks import SMALL_JOB_CONF

NAME = "backfill"
TITLE = "Backfill of missing dates: one spark-submit per date vs one application (local[2])"
START = datetime.date(2024, 1, 1)


def _raw_lake(root: Path, dates: list[datetime.date]) -> None:
    source = sample_file(300, seed=11)[0]
    for date in dates:
        with dated_target(str(root / "ufo" / "raw"), date).writer() as writer:
            writer.put_file("export.csv", source)


def _complete(root: Path, dates: list[datetime.date]) -> bool:
    return all(
        (root / "ufo" / name / d.isoformat() / "_SUCCESS").exists()
        for d in dates
        for name in ("by_state", "rejected")
    )


def _fresh(work: Path, raw: Path) -> Path:
    lake = work / "lake"
    remove(lake)
    shutil.copytree(raw, lake)
    return lake


def _per_date(work: Path, raw: Path, dates: list[datetime.date]) -> float:
    lake = _fresh(work, raw)
    config = work / "luigi.cfg"
    config.write_text(f"[ufo]\nlake = {lake}\n[ufo_spark]\nmaster = local[2]\n", encoding="utf-8")
    stop = dates[-1] + datetime.timedelta(days=1)
    argv = [sys.executable, "-m", "luigi", "--module", "luigi_ufo.ufo", "RangeDaily"]
    argv += ["--of", "AggregateUFOsByState", "--start", dates[0].isoformat()]
    argv += ["--stop", stop.isoformat(), "--days-back", "100000", "--task-limit", "1000"]
    argv += ["--workers", "2", "--local-scheduler"]
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config)}
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0 or not _complete(lake, dates):
        raise RuntimeError(f"per-date backfill failed:\n{result.stderr[-3000:]}")
    return wall


def _one_app(work: Path, raw: Path, dates: list[datetime.date]) -> float:
    lake = _fresh(work, raw)
    script = Path(__file__).parent / "spark" / "backfill_batch.py"
    args = ["--lake", str(lake), "--dates", ",".join(d.isoformat() for d in dates)]
    wall, _, _ = spark_submit(script, args, SMALL_JOB_CONF)
    if not _complete(lake, dates):
        raise RuntimeError("one-application backfill left dates incomplete")
    return wall


def _section(days: int, runs: int) -> list[Row]:
    dates = [START + datetime.timedelta(days=i) for i in range(days)]
    work = fresh_dir("luigi-ufo-bench-backfill-")
    try:
        raw = work / "raw"
        _raw_lake(raw, dates)
        per_date = [_per_date(work, raw, dates) for _ in range(runs)]
        one_app = [_one_app(work, raw, dates) for _ in range(runs)]
    finally:
        remove(work)
    rows = [
        Row("RangeDaily, one spark-submit per date, --workers 2", per_date, baseline=True),
        Row("one Spark application, main(argv, spark) per date", one_app),
    ]
    for row in rows:
        row.extra["s_per_date"] = row.median / days
    return rows


def run(quick: bool) -> dict[str, list[Row]]:
    """Measure each backfill size; quick mode backfills 2 dates once.

    ``LUIGI_UFO_BENCH_BACKFILL_DAYS=30`` limits the sizes (365 dates one spark-submit each, five
    times, takes hours on two cores).
    """
    sizes = [2] if quick else [30, 365]
    limit = os.environ.get("LUIGI_UFO_BENCH_BACKFILL_DAYS")
    if limit and not quick:
        sizes = [n for n in sizes if n <= int(limit)]
    runs = 1 if quick else 5
    return {f"{days} missing dates": _section(days, runs) for days in sizes}
