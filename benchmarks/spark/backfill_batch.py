"""Backfill many dates of aggregate_by_state.py in one Spark application (benchmark variant).

``spark-submit backfill_batch.py --lake DIR --dates 2024-01-01,2024-01-02,...``: one session, the
script's ``main(argv, spark)`` once per date, same inputs and outputs as AggregateUFOsByState.
"""

from __future__ import annotations

import argparse
import sys

from luigi_ufo.scripts import aggregate_by_state


def main(argv: list[str] | None = None) -> int:
    """Aggregate every date with one shared SparkSession; return the first failing exit code."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--dates", required=True, help="comma-separated YYYY-MM-DD")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("backfill_batch").getOrCreate()
    try:
        for date in args.dates.split(","):
            code = aggregate_by_state.main(
                [
                    *("--input", f"{args.lake}/ufo/raw/{date}/"),
                    *("--output", f"{args.lake}/ufo/by_state/{date}/"),
                    *("--rejected-output", f"{args.lake}/ufo/rejected/{date}/"),
                ],
                spark=spark,
            )
            if code:
                return code
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
