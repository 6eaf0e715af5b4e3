"""Test script: write ids 0..--rows-1 to --output as CSV in two partitions.

With ``--gate DIR`` and the file ``DIR/armed`` present, the task of partition 0 creates
``DIR/blocked`` and waits for ``DIR/release`` before yielding its rows: the application is then
mid-write (output directory replaced, part files open) for as long as the test wants. With
``LUIGI_UFO_TEST_FORBID_TAG`` set, the driver first writes ``DIR/live-at-start-<pid>``: how many
live processes carry that tag in their environment (another application still running).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", default=[])
    parser.add_argument("--output", nargs="+", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--gate", required=True)
    return parser.parse_args(argv)


def _gate(gate: str) -> Callable[[int, Iterator[int]], Iterator[int]]:
    armed = os.path.exists(os.path.join(gate, "armed"))

    def fn(index: int, rows: Iterator[int]) -> Iterator[int]:
        if armed and index == 0:
            open(os.path.join(gate, "blocked"), "w").close()
            while not os.path.exists(os.path.join(gate, "release")):
                time.sleep(0.1)
        return rows

    return fn


def _live_tagged(tag: str) -> int:
    import psutil

    count = 0
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("LUIGI_UFO_TEST_TAG") == tag and proc.is_running():
                count += proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            continue
    return count


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    args = parse_args(argv)
    forbidden = os.environ.get("LUIGI_UFO_TEST_FORBID_TAG")
    if forbidden:
        path = os.path.join(args.gate, f"live-at-start-{os.getpid()}")
        with open(path, "w") as fh:
            fh.write(str(_live_tagged(forbidden)))
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
    rows = spark.sparkContext.parallelize(range(args.rows), 2).mapPartitionsWithIndex(
        _gate(args.gate)
    )
    frame = rows.map(lambda i: (i,)).toDF("id int")
    frame.write.mode("overwrite").csv(args.output[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
