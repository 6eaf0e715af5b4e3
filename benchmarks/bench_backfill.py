"""Backfill: 30 and 365 missing dates of AggregateUFOsByState on small dated inputs (local[2]).

Equal work side by side, each row labelled with its mode and what runs per date:

- submit, ``RangeDaily --of AggregateUFOsByState --workers 2``: one spark-submit (one JVM, one
  SparkSession) per date, the script's ``main`` per date (Luigi-contrib style, the baseline);
- submit, ``SparkBackfill``: one application, the script's ``main(argv, spark)`` per date;
- connect (a warm server), ``SparkBackfill`` with per-date ``main``: the script without its
  ``main_batch`` (a copy that re-exports ``main`` alone), one job per date;
- connect (a warm server), ``SparkBackfill`` with ``main_batch``: one job for every date.

Submit mode has no one-job batch: ``main_batch`` declines a classic session, whose fast path
counts in the driver, so ``main`` runs per date there. All run as a user would, ``python -m
luigi`` with the local scheduler, write the same dated outputs and start from a lake holding only
the raw partitions.
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
from benchmarks._ufo import SCRIPTS, fresh_dir, remove, sample_file, scripts_run_under_connect
from luigi_ufo.dated import DatedTarget
from luigi_ufo.testing.connect import start_spark_connect

NAME = "backfill"
TITLE = (
    "Backfill of missing dates, equal work side by side: spark-submit per date, SparkBackfill "
    "submitted, SparkBackfill through a warm Connect server with per-date main and with "
    "main_batch (local[2])"
)
START = datetime.date(2024, 1, 1)


def _raw_lake(root: Path, dates: list[datetime.date]) -> None:
    source = sample_file(300, seed=11)[0]
    for date in dates:
        with DatedTarget(str(root / "ufo" / "raw"), date).writer() as writer:
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


def _per_date_scripts(directory: Path) -> None:
    """Fill a scripts directory whose aggregate_by_state.py has ``main`` but no ``main_batch``."""
    directory.mkdir()
    for name in ("nuforc.py", "local_lake.py"):
        shutil.copy(SCRIPTS / name, directory / name)
    source = (SCRIPTS / "aggregate_by_state.py").read_text(encoding="utf-8")
    (directory / "aggregate_by_state.py").write_text(
        source + "\n\ndel main_batch  # SparkBackfill calls main per date\n", encoding="utf-8"
    )


def _luigi(
    work: Path,
    raw: Path,
    dates: list[datetime.date],
    task: list[str],
    connect_url: str = "",
    scripts_dir: Path | None = None,
) -> float:
    """Run ``python -m luigi <task> --start --stop`` on a fresh lake; return its wall time.

    With ``connect_url`` the tasks run with ``mode = connect`` against that server; with
    ``scripts_dir`` the script is read from there.
    """
    lake = _fresh(work, raw)
    config = work / "luigi.cfg"
    connect = f"mode = connect\nconnect_url = {connect_url}\n" if connect_url else ""
    scripts = f"scripts_dir = {scripts_dir}\n" if scripts_dir else ""
    config.write_text(
        f"[lake]\nroot = {lake}\n[spark_script]\nmaster = local[2]\n{connect}{scripts}",
        encoding="utf-8",
    )
    stop = dates[-1] + datetime.timedelta(days=1)
    argv = [sys.executable, "-m", "luigi", "--module", "luigi_ufo.ufo", *task]
    argv += ["--start", dates[0].isoformat(), "--stop", stop.isoformat(), "--local-scheduler"]
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config)}
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0 or not _complete(lake, dates):
        raise RuntimeError(f"{task[0]} backfill failed:\n{result.stderr[-3000:]}")
    return wall


PER_DATE = ["RangeDaily", "--of", "AggregateUFOsByState", "--workers", "2"]
PER_DATE += ["--days-back", "100000", "--task-limit", "100000"]
ONE_APP = ["SparkBackfill", "--of", "AggregateUFOsByState"]


#: The rows' labels: mode, then what runs per date (equal work shares a label's second part).
SUBMIT_PER_DATE_APPS = "submit: RangeDaily, one spark-submit per date (per-date main), --workers 2"
SUBMIT_PER_DATE = "submit: SparkBackfill, one application, per-date main"
CONNECT_PER_DATE = "connect, warm server: SparkBackfill, per-date main"
CONNECT_BATCH = "connect, warm server: SparkBackfill, main_batch (one job for all dates)"


def _section(days: int, runs: int, with_per_date: bool = True) -> list[Row]:
    dates = [START + datetime.timedelta(days=i) for i in range(days)]
    work = fresh_dir("luigi-ufo-bench-backfill-")
    samples: dict[str, list[float]] = {
        label: []
        for label in (SUBMIT_PER_DATE_APPS, SUBMIT_PER_DATE, CONNECT_PER_DATE, CONNECT_BATCH)
    }
    try:
        raw = work / "raw"
        _raw_lake(raw, dates)
        per_date_scripts = work / "scripts-per-date"
        _per_date_scripts(per_date_scripts)
        server = start_spark_connect() if scripts_run_under_connect() else None
        try:
            if server is not None:
                # Warm: the server has run the script once, as a server kept up between runs.
                _luigi(work, raw, dates[:1], ONE_APP, server.url)
            for _ in range(runs):  # round-robin: load on the shared machine hits all alike
                if with_per_date:
                    samples[SUBMIT_PER_DATE_APPS].append(_luigi(work, raw, dates, PER_DATE))
                samples[SUBMIT_PER_DATE].append(_luigi(work, raw, dates, ONE_APP))
                if server is not None:
                    samples[CONNECT_PER_DATE].append(
                        _luigi(work, raw, dates, ONE_APP, server.url, per_date_scripts)
                    )
                    samples[CONNECT_BATCH].append(_luigi(work, raw, dates, ONE_APP, server.url))
        finally:
            if server is not None:
                server.stop()
    finally:
        remove(work)
    rows = [Row(label, times) for label, times in samples.items() if times]
    rows[0].baseline = True
    for row in rows:
        row.extra["s_per_date"] = row.median / days
    return rows


def run(quick: bool) -> dict[str, list[Row]]:
    """Measure each backfill size five times; quick mode backfills 2 dates once.

    365 dates with one spark-submit each take about 20 minutes a run on two cores:
    ``LUIGI_UFO_BENCH_BACKFILL_365_RUNS`` sets their number of runs (default 5, recorded in the
    results), ``LUIGI_UFO_BENCH_BACKFILL_DAYS=30`` leaves them out, and
    ``LUIGI_UFO_BENCH_BACKFILL_365_PER_DATE=0`` leaves out RangeDaily at 365 dates (SparkBackfill
    submit is then the baseline of SparkBackfill connect), and
    ``LUIGI_UFO_BENCH_BACKFILL_SIZES=365`` measures only the sizes listed (default ``30,365``).
    """
    if quick:
        return {"2 missing dates": _section(2, 1)}
    runs = {30: 5, 365: int(os.environ.get("LUIGI_UFO_BENCH_BACKFILL_365_RUNS", "5"))}
    sizes = {int(s) for s in os.environ.get("LUIGI_UFO_BENCH_BACKFILL_SIZES", "30,365").split(",")}
    runs = {days: n for days, n in runs.items() if days in sizes}
    limit = int(os.environ.get("LUIGI_UFO_BENCH_BACKFILL_DAYS", "365"))
    per_date_365 = os.environ.get("LUIGI_UFO_BENCH_BACKFILL_365_PER_DATE", "1") != "0"
    return {
        f"{days} missing dates": _section(days, n, with_per_date=days < 365 or per_date_365)
        for days, n in runs.items()
        if days <= limit
    }
