from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from luigi_ufo.services.spark_home import spark_home
from luigi_ufo.testing.spark import SparkCluster

pytestmark = pytest.mark.integration

GROUP_SCRIPT = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("harness-group").getOrCreate()
    rows = spark.read.option("header", True).csv(sys.argv[1]).groupBy("state").count()
    # An RDD lambda runs in a Python worker on the executor, not in the JVM.
    counted = rows.rdd.map(lambda r: (r["state"], int(r["count"]))).collect()
    executor_python = spark.sparkContext.parallelize([0], 1).map(lambda _: sys.executable).first()
    with open(sys.argv[2], "w") as out:
        for state, n in sorted(counted):
            out.write(f"{state},{n}\\n")
        out.write(f"python={executor_python}\\n")
    spark.stop()
    """
)


def test_spark_submit_groups_a_csv_on_the_standalone_cluster(
    spark_master: SparkCluster, tmp_path: Path
) -> None:
    data = tmp_path / "sightings.csv"
    with data.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["date", "state"])
        writer.writerows([["2026-11-24", s] for s in ["CA", "TX", "CA", "WA", "CA", "TX"]])
    script = tmp_path / "group.py"
    script.write_text(GROUP_SCRIPT)
    out = tmp_path / "counts.txt"
    argv = [
        str(spark_home() / "bin" / "spark-submit"),
        "--master",
        spark_master.master_url,
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.shuffle.partitions=2",
        "--executor-memory",
        "512m",
        str(script),
        str(data),
        str(out),
    ]
    # No interpreter setting here: the fixture's PYSPARK_PYTHON must reach the executors.
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected_python = os.environ.get("PYSPARK_PYTHON", sys.executable)
    assert out.read_text().splitlines() == ["CA,3", "TX,2", "WA,1", f"python={expected_python}"]
    if spark_master.web_url is not None:
        apps = spark_master.status()["completedapps"]
        assert "harness-group" in [app["name"] for app in apps]


def test_spark_master_reports_an_alive_worker(spark_master: SparkCluster) -> None:
    assert spark_master.master_url.startswith("spark://")
    if spark_master.web_url is not None:
        status = spark_master.status()
        assert status["aliveworkers"] >= 1
        assert status["status"] == "ALIVE"


def test_spark_local_master_is_two_cores(spark_local_master: str) -> None:
    assert spark_local_master == "local[2]"
