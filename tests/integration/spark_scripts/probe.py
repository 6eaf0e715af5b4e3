"""Test script for ExternalSparkScriptTask: writes, fails, sleeps or writes nothing, by --mode.

Follows the script contract: ``main(argv, spark=None) -> int``, argparse, no luigi import.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

VERSION = "v1"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", default=[])
    parser.add_argument("--output", nargs="+", default=[])
    parser.add_argument("--mode", choices=["write", "fail", "slow", "nothing"], default="write")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per task before writing")
    parser.add_argument("--tag", default="", help="unused: lets tests find the processes")
    parser.add_argument(
        "--echo-env", nargs="+", default=[], help="print these variables (masking tests)"
    )
    return parser.parse_args(argv)


def _pause(seconds: float) -> Any:
    def fn(x: int) -> int:
        time.sleep(seconds)
        return x

    return fn


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    args = parse_args(argv)
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
    print(f"probe VERSION={VERSION} mode={args.mode}", flush=True)
    for name in args.echo_env:
        print(f"probe {name}={os.environ.get(name, '')}", flush=True)
    if args.mode == "fail":
        raise ValueError(f"probe failed on purpose (bad row {41 + 1})")
    inputs = sum(spark.read.text(uri).count() for uri in args.input)
    if args.sleep:
        spark.sparkContext.parallelize(range(args.tasks), args.tasks).map(_pause(args.sleep)).sum()
    if args.mode == "nothing":
        return 0
    rows = [(i, VERSION, inputs) for i in range(3)]
    frame = spark.createDataFrame(rows, "id int, version string, inputs long").coalesce(1)
    for uri in args.output:
        frame.write.mode("overwrite").csv(uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
