"""DataFrame-only test script: runs under spark-submit and under Spark Connect alike.

Follows the script contract: ``main(argv, spark=None) -> int``, argparse, no luigi import, no
SparkContext, RDD or ``_jvm``. ``--mode`` picks: write, fail, slow (a server-side job of
``--tasks`` Python UDF tasks sleeping ``--sleep`` s each), nothing (writes no output).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

VERSION = "v1"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", default=[])
    parser.add_argument("--output", nargs="+", default=[])
    parser.add_argument("--mode", choices=["write", "fail", "slow", "nothing"], default="write")
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per UDF task")
    parser.add_argument("--label", default="", help="written into every row")
    parser.add_argument("--fail-label", default="", help="fail when --label equals this")
    return parser.parse_args(argv)


def pause(seconds: float) -> Any:
    """A UDF body that runs on the server's Python workers (pickled by value)."""

    def fn(x):  # type: ignore[no-untyped-def]  # hints would make pyspark infer a pandas UDF
        time.sleep(seconds)
        return x

    return fn


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    args = parse_args(argv)
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
    from pyspark.sql import functions as F

    print(f"connect_probe VERSION={VERSION} mode={args.mode}", flush=True)
    if args.mode == "fail" or (args.fail_label and args.label == args.fail_label):
        raise ValueError(f"connect_probe failed on purpose (bad row {41 + 1})")
    inputs = sum(spark.read.text(uri).count() for uri in args.input)
    if args.sleep:
        slow = F.udf(pause(args.sleep), "long")
        spark.range(args.tasks).repartition(args.tasks).select(F.sum(slow("id"))).collect()
    if args.mode == "nothing":
        return 0
    rows = [(i, VERSION, inputs, args.label) for i in range(3)]
    frame = spark.createDataFrame(rows, "id int, version string, inputs long, label string")
    for uri in args.output:
        frame.coalesce(1).write.mode("overwrite").csv(uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
