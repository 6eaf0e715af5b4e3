"""Test script: a stage too short for Spark's progress bar, a longer one, then a pause.

The short stage (2 quick tasks) ends within Spark's 500 ms before it draws a bar; the longer
one (6 tasks of 0.5 s on local[2]) is drawn. Then the driver passes the pause point
``after-stages`` (``luigi_ufo.pause_points``), where a test can look at the progress reported so
far, and writes ``--output`` (one CSV part and ``_SUCCESS``) with the DataFrame writer.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from luigi_ufo.pause_points import pause_point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", default=[])
    parser.add_argument("--output", nargs="+", required=True)
    return parser.parse_args(argv)


def _slow(x: int) -> int:
    time.sleep(0.5)
    return x


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    args = parse_args(argv)
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
    sc = spark.sparkContext
    short = sc.parallelize(range(2), 2).count()
    longer = sc.parallelize(range(6), 6).map(_slow).count()
    pause_point("after-stages")
    frame = spark.createDataFrame([(short, longer)], "short long, longer long").coalesce(1)
    frame.write.mode("overwrite").csv(args.output[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
