"""Overhead of ExternalSparkScriptTask over bare spark-submit, and vs luigi's SparkSubmitTask.

The same trivial script (a 3-row CSV written to --output) runs three ways on local[2] and on a
standalone master started with luigi_ufo.testing.spark: bare ``spark-submit`` (baseline),
through ExternalSparkScriptTask, and through luigi.contrib.spark.SparkSubmitTask, each inside
``luigi.build`` with the local scheduler. On local[2] a fourth way runs the same task with
``mode = connect`` against a warm Spark Connect server (local[2], same conf) started for the
section. Every run writes a fresh output directory.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import luigi
import luigi.configuration
from luigi.contrib.spark import SparkSubmitTask

from benchmarks._common import Row, repeat
from luigi_ufo.spark import ExternalSparkScriptTask, RunResult
from luigi_ufo.spark.settings import default_spark_submit

NAME = "spark_overhead"
TITLE = "Spark task overhead: ExternalSparkScriptTask vs bare spark-submit vs SparkSubmitTask"

SCRIPT = """
import argparse, sys

def main(argv=None, spark=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", nargs="+", required=True)
    args = parser.parse_args(argv)
    if spark is None:
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.getOrCreate()
    spark.createDataFrame([(1,), (2,), (3,)], "x int").coalesce(1).write.csv(args.output[0])
    return 0

if __name__ == "__main__":
    sys.exit(main())
"""
#: Identical for all three variants, so only the wrapper differs.
CONF = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"}
_counter = itertools.count()
#: spark-submit's own wall time in each ExternalSparkScriptTask run (luigi runs it in-process).
_SUBMIT_SECONDS: list[float] = []


class _UfoTrivial(ExternalSparkScriptTask):
    script = "trivial.py"
    out = luigi.Parameter()

    def output(self) -> Any:
        return luigi.LocalTarget(os.path.join(self.out, "_SUCCESS"))

    def app_options(self) -> list[str]:
        return ["--output", self.out]

    def check_outputs(self, result: RunResult) -> None:
        _SUBMIT_SECONDS.append(result.duration_s)
        super().check_outputs(result)


class _ConnectTrivial(_UfoTrivial):
    """The same task through a warm Spark Connect server ([spark_script] connect_url)."""

    spark_overrides = {"mode": "connect"}  # noqa: RUF012 - read-only

    def check_outputs(self, result: RunResult) -> None:
        ExternalSparkScriptTask.check_outputs(self, result)


class _ContribTrivial(SparkSubmitTask):  # type: ignore[misc]
    out = luigi.Parameter()
    app = luigi.Parameter()

    def output(self) -> Any:
        return luigi.LocalTarget(os.path.join(self.out, "_SUCCESS"))

    def app_options(self) -> list[str]:
        return ["--output", self.out]


def _fresh(work: Path) -> str:
    return str(work / f"out-{next(_counter)}")


def _bare(spark_submit: str, master: str, script: Path, work: Path) -> Callable[[], None]:
    def run() -> None:
        argv = [spark_submit, "--master", master]
        for key, value in CONF.items():
            argv += ["--conf", f"{key}={value}"]
        argv += [str(script), "--output", _fresh(work)]
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])

    return run


def _built(make: Callable[[], luigi.Task]) -> Callable[[], None]:
    def run() -> None:
        ok = luigi.build([make()], local_scheduler=True, log_level="WARNING")
        if not ok:
            raise RuntimeError("luigi.build reported a failure")

    return run


def _configure(master: str, scripts: Path, spark_submit: str) -> None:
    config = luigi.configuration.get_config()
    for section in ("spark_script", "spark"):
        if not config.has_section(section):
            config.add_section(section)
    config.set("spark_script", "master", master)
    config.set("spark_script", "scripts_dir", str(scripts))
    config.set("spark_script", "conf", str(CONF).replace("'", '"'))
    config.set("spark", "master", master)
    config.set("spark", "spark-submit", spark_submit)
    config.set("spark", "conf", "|".join(f"{k}={v}" for k, v in CONF.items()))
    config.set("spark", "pyspark-python", sys.executable)


def _section(
    master: str, runs: int, scripts: Path, work: Path, warmup: bool, connect_url: str | None = None
) -> list[Row]:
    spark_submit = default_spark_submit()
    script = scripts / "trivial.py"
    _configure(master, scripts, spark_submit)
    variants: list[tuple[str, Callable[[], None], bool]] = [
        ("bare spark-submit", _bare(spark_submit, master, script, work), True),
        ("ExternalSparkScriptTask", _built(lambda: _UfoTrivial(out=_fresh(work))), False),
        (
            "luigi.contrib.spark.SparkSubmitTask",
            _built(lambda: _ContribTrivial(out=_fresh(work), app=str(script))),
            False,
        ),
    ]
    if connect_url is not None:
        luigi.configuration.get_config().set("spark_script", "connect_url", connect_url)
        connected = _built(lambda: _ConnectTrivial(out=_fresh(work)))
        # A warm server has run the job once already: that is the point of keeping it up.
        connected()
        variants.append(("ExternalSparkScriptTask, connect, warm server", connected, False))
    for _, fn, _ in variants if warmup else ():
        # One unmeasured run each warms the page cache for the JVM's jars, equally for all.
        fn()
    samples: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    _SUBMIT_SECONDS.clear()
    for _ in range(runs):
        # Round-robin, so load from other processes drifts over all variants alike.
        for name, fn, _ in variants:
            samples[name] += repeat(fn, 1)[0]
    rows = [Row(name, samples[name], baseline=baseline) for name, _, baseline in variants]
    # Wall time of the task minus spark-submit's own: the plugin's and Luigi's share, which the
    # Spark start-up noise of a shared machine does not blur.
    task = samples["ExternalSparkScriptTask"]
    outside = sorted(w - s for w, s in zip(task, _SUBMIT_SECONDS, strict=True))
    rows[1].extra["outside_spark_submit_median_s"] = outside[len(outside) // 2]
    if connect_url is not None:
        rows[-1].extra["speedup_vs_bare"] = rows[0].median / rows[-1].median
    return rows


def run(quick: bool) -> dict[str, list[Row]]:
    """Time the three variants on local[2] and on a standalone master (quick: local, 1 run)."""
    from luigi_ufo.testing.connect import start_spark_connect
    from luigi_ufo.testing.spark import start_spark

    logging.getLogger("luigi_ufo.spark").setLevel(logging.WARNING)
    runs = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        scripts = Path(tmp) / "scripts"
        scripts.mkdir()
        (scripts / "trivial.py").write_text(SCRIPT)
        work = Path(tmp) / "work"
        work.mkdir()
        server = start_spark_connect(conf=CONF)
        try:
            sections = {
                "local[2]": _section(
                    "local[2]", runs, scripts, work, warmup=not quick, connect_url=server.url
                )
            }
        finally:
            server.stop()
        if quick:
            return sections
        cluster = start_spark()
        try:
            sections["standalone (1 worker, 2 cores)"] = _section(
                cluster.master_url, runs, scripts, work, warmup=True
            )
        finally:
            cluster.stop()
    return sections
