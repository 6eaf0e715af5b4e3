"""Helpers of the UFO pipeline benchmarks: inputs, spark-submit runs, DuckDB's R1 query."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from luigi_ufo.scripts.nuforc import US_STATES

from luigi_ufo.spark.settings import default_spark_submit
from luigi_ufo.ufo.sample import write_sample

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "src" / "spark"
CACHE = Path(
    os.environ.get("LUIGI_UFO_BENCH_CACHE", Path(tempfile.gettempdir()) / "luigi-ufo-bench")
)
# Stage times, not "Job N finished ... took": with adaptive execution a shuffle map stage runs as
# a job of its own that logs no such line.
# Spark 4 logs "finished in 123 ms", Spark 3.5 "finished in 0.123 s".
_STAGE_TOOK = re.compile(
    r"(?:ShuffleMapStage|ResultStage) \d+ \(.*\) finished in ([\d.]+) (ms|s)\b"
)


def sample_file(rows: int, *, seed: int = 7, gz: bool = False) -> tuple[Path, Counter[str], int]:
    """Return a cached generated export of ``rows`` rows, its R1 state counts and its records."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"nuforc-{rows}-seed{seed}.csv{'.gz' if gz else ''}"
    meta = path.with_suffix(path.suffix + ".counts")
    if not (path.exists() and meta.exists()):
        summary = write_sample(path, rows, seed=seed, compress=gz)
        lines = [f"{summary.records}"] + [f"{s},{n}" for s, n in summary.states.items()]
        meta.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, *states = meta.read_text(encoding="utf-8").split()
    counts = Counter({s: int(n) for s, n in (line.split(",") for line in states)})
    return path, counts, int(records)


def spark_env() -> dict[str, str]:
    """Return the environment of a spark-submit whose Python workers use this interpreter."""
    return {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}


def py_files(script: Path) -> list[str]:
    """Return ``--py-files`` of the modules a packaged script imports (its task's script_files)."""
    from luigi_ufo.ufo.tasks import AggregateUFOsByState, TopTenStates

    tasks = {t.script: t.script_files for t in (AggregateUFOsByState, TopTenStates)}
    files = tasks.get(script.name, ())
    return ["--py-files", ",".join(str(script.parent / f) for f in files)] if files else []


def spark_submit(script: Path, args: list[str], conf: dict[str, str]) -> tuple[float, float, str]:
    """Run one spark-submit on local[2]; return (wall s, sum of Spark stage times s, stdout)."""
    argv = [default_spark_submit(), "--master", "local[2]", *py_files(script)]
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    start = time.perf_counter()
    result = subprocess.run(
        [*argv, str(script), *args], env=spark_env(), capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"spark-submit {script.name} failed:\n{result.stderr[-3000:]}")
    jobs = sum(
        float(took) / (1000 if unit == "ms" else 1)
        for took, unit in _STAGE_TOOK.findall(result.stderr)
    )
    return wall, jobs, result.stdout


def fresh_dir(prefix: str) -> Path:
    """Return a new directory the embedded PostgreSQL's unprivileged user can enter."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def remove(path: Path) -> None:
    """Delete a benchmark directory."""
    shutil.rmtree(path, ignore_errors=True)


def duckdb_r1(path: Path, con: Any = None) -> Counter[str]:
    """Count rule R1 with DuckDB's CSV reader (all columns text, quotes ``"``)."""
    import duckdb

    con = con or duckdb.connect()
    states = ", ".join(f"'{s}'" for s in sorted(US_STATES))
    query = f"""
        SELECT upper(trim("State")) AS state, count(*) AS n
        FROM read_csv(?, header = true, all_varchar = true, quote = '"', escape = '"',
                      delim = ',', strict_mode = false)
        WHERE upper(trim("State")) IN ({states})
        GROUP BY 1
    """
    return Counter(dict(con.execute(query, [str(path)]).fetchall()))


def scripts_run_under_connect() -> bool:
    """Whether both packaged scripts are DataFrame-only, so connect-mode variants can run."""
    from luigi_ufo.spark.connect.guard import find_unsupported

    names = ("aggregate_by_state.py", "top_10.py")
    return not any(find_unsupported((SCRIPTS / name).read_text(encoding="utf-8")) for name in names)
