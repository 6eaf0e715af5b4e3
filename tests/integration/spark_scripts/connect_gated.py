"""DataFrame-only test script: write ids 0..--rows-1 to --output as CSV in two partitions.

With ``--gate DIR`` and the file ``DIR/armed`` present when the run starts, the Python UDF task
of partition 0 writes its pid to ``DIR/blocked`` and waits for ``DIR/release`` before yielding
its rows: the write is then mid-way on the server (output directory replaced, one task done)
for as long as the test wants. When ``DIR/blocked`` exists as a run starts (a blocked task of an
earlier run), the driver first writes ``DIR/live-at-start-<pid>``: 1 if that task's Python
worker still lives, else 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", default=[])
    parser.add_argument("--output", nargs="+", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--gate", required=True)
    return parser.parse_args(argv)


def gate(directory: str, armed: bool) -> Any:
    """The UDF body: block on the first row of partition 0 while the gate is armed."""

    def fn(i):  # type: ignore[no-untyped-def]  # hints would make pyspark infer a pandas UDF
        if armed and i == 0:
            with open(os.path.join(directory, "blocked.tmp"), "w") as out:
                out.write(str(os.getpid()))
            os.replace(os.path.join(directory, "blocked.tmp"), os.path.join(directory, "blocked"))
            while not os.path.exists(os.path.join(directory, "release")):
                time.sleep(0.1)
        return i

    return fn


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    args = parse_args(argv)
    blocked = os.path.join(args.gate, "blocked")
    if os.path.exists(blocked):
        with open(blocked) as held:
            live = _alive(int(held.read()))
        with open(os.path.join(args.gate, f"live-at-start-{os.getpid()}"), "w") as out:
            out.write(str(int(live)))
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
    from pyspark.sql import functions as F

    armed = os.path.exists(os.path.join(args.gate, "armed"))
    held = F.udf(gate(args.gate, armed), "long")
    frame = spark.range(0, args.rows, 1, 2).select(held("id").alias("id"))
    frame.write.mode("overwrite").csv(args.output[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
