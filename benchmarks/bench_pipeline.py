"""Reference pipeline on the real primary file: cold ``luigi-ufo run`` per stage, and the
aggregation stage against Spark's own CSV reader, on ``local[2]``.

Targets (issue 6): cold end to end <= 25 s, aggregation job <= 2 s of Spark job time.
Quick mode uses a small generated export instead of the real file, and says so in its title and
sections; a full run without the real file (``../shared/data/ufo`` beside the checkout, or
``LUIGI_UFO_NUFORC_DIR``) refuses to start rather than measure something else.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks._common import Row
from benchmarks._ufo import (
    SCRIPTS,
    duckdb_r1,
    fresh_dir,
    remove,
    sample_file,
    scripts_run_under_connect,
)
from benchmarks._ufo import spark_submit as submit
from luigi_ufo.ufo.report import STEPS as STAGES  # the steps `luigi-ufo run` times
from luigi_ufo.ufo.tasks import SMALL_JOB_CONF as PIPELINE_CONF
from tests.real_nuforc import DATA_ENV, PRIMARY

NAME = "pipeline"
TITLE = "Reference pipeline on the primary NUFORC file (local[2], cold)"
QUICK_TITLE = "Reference pipeline on a generated 5,000-row sample, not the NUFORC file (quick)"

_TIMING = re.compile(r"([A-Za-z][A-Za-z ]*?) (\d+\.\d) s")


def _input(quick: bool) -> Path:
    if quick:
        return sample_file(5_000, gz=True)[0]
    if not PRIMARY.is_file():
        raise SystemExit(
            f"benchmark {NAME!r} measures the primary NUFORC file, and {str(PRIMARY)!r} is "
            f"absent: put ../shared/data/ufo beside the checkout or set {DATA_ENV} (or run "
            "--quick, which measures a generated sample and says so)"
        )
    return PRIMARY


def _cold_run(source: Path) -> tuple[float, dict[str, float], dict[str, object]]:
    """Run ``luigi-ufo run`` with a fresh data dir (new lake, initdb) and Spark on local[2]."""
    home = fresh_dir("luigi-ufo-bench-")
    try:
        return _run(source, home, "")
    finally:
        remove(home)


def _home_env(home: Path, connect_url: str) -> dict[str, str]:
    config = home / "luigi.cfg"
    connect = f"mode = connect\nconnect_url = {connect_url}\n" if connect_url else ""
    config.write_text(f"[spark_script]\nmaster = local[2]\n{connect}", encoding="utf-8")
    return {
        **os.environ,
        "LUIGI_UFO_DATA_DIR": str(home / "data"),
        "LUIGI_CONFIG_PATH": str(config),
    }


def _luigi_ufo() -> str:
    return str(Path(sys.executable).with_name("luigi-ufo"))


def _run(
    source: Path, home: Path, connect_url: str
) -> tuple[float, dict[str, float], dict[str, object]]:
    """Run ``luigi-ufo run`` in ``home`` (its data dir and luigi.cfg); return wall, stages, doc."""
    env = _home_env(home, connect_url)
    command = [_luigi_ufo(), "run", "--input", str(source)]
    start = time.perf_counter()
    result = subprocess.run(
        [*command, "--date", "2024-01-15", "--json"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"luigi-ufo run failed:\n{result.stderr[-3000:]}")
    line = next(x for x in result.stderr.splitlines() if "total" in x and "AggregateUFOs" in x)
    stages = {name: float(sec) for name, sec in _TIMING.findall(line.split(":", 1)[1])}
    return wall, stages, json.loads(result.stdout)


def _end_to_end(source: Path, runs: int) -> list[Row]:
    walls: list[float] = []
    per_stage: dict[str, list[float]] = {name: [] for name in STAGES}
    doc: dict[str, object] = {}
    for _ in range(runs):
        wall, stages, doc = _cold_run(source)
        walls.append(wall)
        for name in STAGES:
            per_stage[name].append(stages[name])
    top = doc.get("top", [])
    first = top[0] if isinstance(top, list) and top else {}
    rows = [
        Row(
            "luigi-ufo run, end to end (process wall)",
            walls,
            {"target_s": 25.0, "counted": doc.get("counted"), "top1": str(first)},
            baseline=True,
        )
    ]
    rows += [Row(f"  stage: {name}", per_stage[name]) for name in STAGES]
    if scripts_run_under_connect():
        rows.append(_warm(source, runs, doc))
    return rows


def _warm(source: Path, runs: int, cold: dict[str, object]) -> Row:
    """``luigi-ufo run`` in the edit loop: a warm Connect server, ``luigi-ufo db`` kept up.

    One data dir for all runs (each run re-imports the export and recomputes every stage); the
    first, unmeasured run warms the server. The answer must equal the cold run's.
    """
    from luigi_ufo.testing.connect import start_spark_connect

    home = fresh_dir("luigi-ufo-bench-warm-")
    server = start_spark_connect(conf=PIPELINE_CONF)
    env = _home_env(home, server.url)
    subprocess.run(
        [_luigi_ufo(), "db", "start"], env=env, cwd=home, check=True, capture_output=True
    )
    try:
        _run(source, home, server.url)
        walls: list[float] = []
        for _ in range(runs):
            wall, _, doc = _run(source, home, server.url)
            if doc.get("top") != cold.get("top") or doc.get("counted") != cold.get("counted"):
                raise RuntimeError(f"connect answer {doc!r} differs from the cold run's {cold!r}")
            walls.append(wall)
    finally:
        subprocess.run([_luigi_ufo(), "db", "stop"], env=env, cwd=home, check=False)
        server.stop()
        remove(home)
    return Row(
        "luigi-ufo run, warm server (connect mode, luigi-ufo db up)",
        walls,
        {"target_s": 3.0, "same_answer": "yes"},
    )


def _aggregation(source: Path, runs: int, tmp: Path, quick: bool) -> list[Row]:
    csv_r1 = Path(__file__).parent / "spark" / "csv_r1.py"
    ours = SCRIPTS / "aggregate_by_state.py"
    variants: dict[str, tuple[Path, dict[str, str]]] = {
        "aggregate_by_state.py (Python csv in a Spark task), pipeline conf": (ours, PIPELINE_CONF),
        "aggregate_by_state.py, Spark defaults": (ours, {}),
        "spark.read.csv multiLine + groupBy, Spark defaults (200 shuffle partitions)": (csv_r1, {}),
        "spark.read.csv multiLine + groupBy, 2 shuffle partitions, UI off": (
            csv_r1,
            {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
        ),
    }
    if quick:
        variants = dict(list(variants.items())[::2])
    walls: dict[str, list[float]] = {label: [] for label in variants}
    jobs: dict[str, list[float]] = {label: [] for label in variants}
    duck: list[float] = []
    counts: Counter[str] = Counter()
    for i in range(runs):
        # Round-robin: load from other processes on the machine drifts over all variants alike.
        for n, (label, (script, conf)) in enumerate(variants.items()):
            args = ["--input", str(source)]
            if script == ours:
                out = tmp / f"{n}-{i}"
                args += ["--output", str(out / "s"), "--rejected-output", str(out / "r")]
            wall, job, _ = submit(script, args, conf)
            walls[label].append(wall)
            jobs[label].append(job)
        start = time.perf_counter()
        counts = duckdb_r1(source)
        duck.append(time.perf_counter() - start)
    rows: list[Row] = []
    for label in variants:
        extra: dict[str, object] = {
            "job_s_median": statistics.median(jobs[label]),
            "job_s_max": max(jobs[label]),
        }
        if not rows:
            extra["target_job_s"] = 2.0
        rows.append(Row(f"spark-submit {label}", walls[label], extra, baseline=not rows))
    counted = {"counted": sum(counts.values())}
    rows.append(Row("DuckDB read_csv + GROUP BY, in process", duck, counted))
    return rows


def run(quick: bool) -> dict[str, list[Row]]:
    """Measure the cold pipeline per stage and the aggregation variants."""
    runs = 1 if quick else 5
    source = _input(quick)
    what = f"{source.name} (generated sample)" if quick else source.name
    tmp = fresh_dir("luigi-ufo-bench-agg-")
    try:
        return {
            f"cold `luigi-ufo run` on {what}, per stage": _end_to_end(source, runs),
            f"aggregation stage alone on {what}": _aggregation(source, runs, tmp, quick),
        }
    finally:
        remove(tmp)
