"""Test script importing a module of the scripts directory (``script_files``) in a Python UDF.

The UDF runs on Spark's Python workers, which must get ``shout`` from the task: ``--py-files`` in
submit mode, by value from the Connect child in Connect mode.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import shout


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", required=True)
    parser.add_argument("--output", nargs="+", required=True)
    args = parser.parse_args(argv)
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
    from pyspark.sql import functions as F

    loud = F.udf(shout.shout, "string")
    lines = spark.read.text(args.input).select(loud("value").alias("value")).orderBy("value")
    lines.coalesce(1).write.mode("overwrite").text(args.output[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
