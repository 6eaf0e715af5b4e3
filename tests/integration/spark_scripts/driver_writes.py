"""Test script: count ids with Spark, then write them from the driver in plain Python.

Like a script's local fast path, the driver itself replaces ``--output``: it deletes the old
part files, runs a Spark job that returns ids ``0..--rows-1``, then writes them to
``part-<pid>.csv`` and creates ``_SUCCESS``. Between the job and the write it passes the pause
point ``driver-before-write`` (``luigi_ufo.pause_points``), where a test can hold it and kill the
supervisor, the JVM or the driver: a driver that outlived its JVM would still write its rows
and the flag there.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from luigi_ufo.pause_points import pause_point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", default=[])
    parser.add_argument("--output", nargs="+", required=True)
    parser.add_argument("--rows", type=int, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    args = parse_args(argv)
    out = args.output[0]
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
    ids = sorted(spark.sparkContext.parallelize(range(args.rows), 2).collect())
    pause_point("driver-before-write")
    with open(os.path.join(out, f"part-{os.getpid()}.csv"), "w", encoding="ascii") as fh:
        fh.write("".join(f"{i}\n" for i in ids))
    open(os.path.join(out, "_SUCCESS"), "w").close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
