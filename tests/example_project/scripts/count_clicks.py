"""Count clicks per page: ``--input`` page,user CSV partitions, ``--output`` page,clicks CSV.

A row without a page or a user fails the run, naming the row. No luigi import: this file runs
under spark-submit, and luigi-ufo hands it its task's inputs and outputs.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession, functions


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", required=True)
    parser.add_argument("--output", nargs=1, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> int:
    args = parse_args(argv)
    spark = spark or SparkSession.builder.getOrCreate()
    rows = spark.read.option("header", True).csv(args.input)
    bad = rows.filter(functions.col("page").isNull() | functions.col("user").isNull()).first()
    if bad is not None:
        raise ValueError(f"click row without page or user: {bad.asDict()!r}; fix the raw log")
    counts = rows.groupBy("page").agg(functions.count("*").alias("clicks")).coalesce(1)
    counts.write.mode("overwrite").option("header", True).csv(args.output[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
