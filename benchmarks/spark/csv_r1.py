"""Rule R1 with Spark's own CSV reader (multiLine), the approach aggregate_by_state.py replaced.

Benchmark baseline only: ``spark-submit csv_r1.py --input FILE``; prints ``STATE,COUNT`` lines.
"""

from __future__ import annotations

import argparse
import sys

from luigi_ufo.scripts.nuforc import US_STATES  # rule R1's one state list


def main(argv: list[str] | None = None) -> int:
    """Count R1 states of ``--input`` with spark.read.csv and print them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = SparkSession.builder.appName("csv_r1").getOrCreate()
    df = spark.read.csv(
        args.input, header=True, multiLine=True, quote='"', escape='"', inferSchema=False
    )
    state = F.upper(F.trim(F.col("State")))
    rows = df.where(state.isin(sorted(US_STATES))).groupBy(state.alias("state")).count().collect()
    for row in sorted(rows, key=lambda r: (-r["count"], r["state"])):
        print(f"{row['state']},{row['count']}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
