"""DataFrame-only test script: runs under spark-submit and under Spark Connect alike.

Follows the script contract: ``main(argv, spark=None) -> int``, argparse, no luigi import, no
SparkContext, RDD or ``_jvm``. ``--mode`` picks: write, fail, slow (a server-side job of
``--tasks`` Python UDF tasks sleeping ``--sleep`` s each), nothing (writes no output), block
(sleeps in C forever, ignoring SIGTERM and swallowing every exception), channels (writes
``NAME=value`` of each ``--echo-env`` variable to stdout, stderr, logging and warnings, then
raises with them in its message).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
import warnings
from typing import Any

VERSION = "v1"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", default=[])
    parser.add_argument("--output", nargs="+", default=[])
    modes = ["write", "fail", "slow", "nothing", "block", "channels"]
    parser.add_argument("--mode", choices=modes, default="write")
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per UDF task")
    parser.add_argument("--label", default="", help="written into every row")
    parser.add_argument("--fail-label", default="", help="fail when --label equals this")
    parser.add_argument("--echo-env", nargs="*", default=[], help="variables for --mode channels")
    return parser.parse_args(argv)


def block_forever() -> None:
    """Sleep in C, deaf to SIGTERM, swallowing even KeyboardInterrupt and SystemExit."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        # The point: nothing raised inside (an async exception included) stops it.
        with contextlib.suppress(BaseException):
            time.sleep(3600)


def echo_everywhere(names: list[str]) -> None:
    """Write each variable's value to every channel a script has, then raise with them."""
    shown = " ".join(f"{name}={os.environ.get(name, '')}" for name in names)
    print(f"via-stdout {shown}", flush=True)
    print(f"via-stderr {shown}", file=sys.stderr, flush=True)
    logging.basicConfig()
    logging.getLogger("myjob").warning("via-logging %s", shown)
    warnings.warn(f"via-warnings {shown}", stacklevel=1)
    raise ValueError(f"via-traceback {shown}")


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
    if args.mode == "block":
        block_forever()
    if args.mode == "channels":
        echo_everywhere(args.echo_env)
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
