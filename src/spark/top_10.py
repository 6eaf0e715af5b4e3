"""Take the top N states of a ``state,sightings`` dataset (count descending, then state code).

Run by ``TopTenStates`` exactly as by hand::

    spark-submit top_10.py --input BY_STATE_DIR --output TOP_DIR [--top 10]

The output is ``rank,state,sightings`` with ranks 1..N by position (a tie at the N-th place is
broken by state code, so exactly N rows are written when there are N states).

The input holds at most a few dozen rows: the script reads it whole with the DataFrame reader
(file:, s3a:, hdfs: alike), ranks it in Python with clear errors for a bad row, and writes the
result with the DataFrame writer, so the same file runs under spark-submit and Spark Connect.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import sys
from typing import Any
from urllib.parse import unquote, urlparse

INPUT_HEADER = ("state", "sightings")
OUTPUT_HEADER = ("rank", "state", "sightings")


class InputError(ValueError):
    """The input dataset is missing or not a ``state,sightings`` CSV."""


def parse_counts(text: str, *, source: str = "<input>") -> dict[str, int]:
    """Return {state: sightings} from one ``state,sightings`` CSV document (header first)."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return {}
    if tuple(name.strip().lower() for name in rows[0]) != INPUT_HEADER:
        raise InputError(f"{source}: header {rows[0]!r} is not {','.join(INPUT_HEADER)!r}")
    counts: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        try:
            state, sightings = row
            counts[state] = counts.get(state, 0) + int(sightings)
        except ValueError:
            raise InputError(f"{source}: line {line} {row!r} is not 'STATE,COUNT'") from None
    return counts


def top_n(counts: dict[str, int], n: int) -> list[tuple[int, str, int]]:
    """Return (rank, state, sightings) of the n largest counts, ties broken by state code."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(rank, state, count) for rank, (state, count) in enumerate(ordered, start=1)]


def read_parts(spark: Any, uri: str) -> list[tuple[str, str]]:
    """Return (file URI, text) of each data file of the dataset at ``uri``, sorted by URI."""
    from pyspark.errors import AnalysisException

    try:
        frame = spark.read.text(uri, wholetext=True)
        rows = frame.select("value", "_metadata.file_path").collect()
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise InputError(
                f"input {uri!r} does not exist; run AggregateUFOsByState first"
            ) from None
        raise
    return sorted((str(path), str(text)) for text, path in rows)


def replace_dataset(spark: Any, uri: str, rows: list[tuple[int, str, int]]) -> None:
    """Replace the dataset at ``uri`` with ``rows`` in one CSV part; ``_SUCCESS`` comes last.

    The old flag goes first (on a local file system, whose directory delete goes file by file;
    the task removed it already in every mode), then Spark's writer deletes the old data,
    writes the part and commits, writing the new flag last.
    """
    frame = spark.createDataFrame(rows, "rank int, state string, sightings bigint")
    # A path without a scheme is taken as it is ('#', '%' are literal); file: URIs are decoded.
    local = unquote(urlparse(uri).path) if uri.startswith("file:") else uri
    if uri.startswith("file:") or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.remove(os.path.join(local, "_SUCCESS"))
    frame.coalesce(1).write.mode("overwrite").option("header", True).csv(uri)


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of this script."""
    parser = argparse.ArgumentParser(prog="top_10.py", description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="state,sightings dataset URI")
    parser.add_argument("--output", required=True, help="rank,state,sightings dataset URI")
    parser.add_argument("--top", type=int, default=10, help="N (default 10)")
    return parser


def _session(spark: Any) -> tuple[Any, bool]:
    if spark is not None:
        return spark, False
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName("top_10").getOrCreate(), True


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    """Rank the input's states and write the top N; return the process exit code."""
    args = build_parser().parse_args(argv)
    if args.top < 1:
        print(f"top_10: error: --top {args.top!r} must be at least 1", file=sys.stderr)
        return 2
    spark, owned = _session(spark)
    try:
        counts: dict[str, int] = {}
        for uri, text in read_parts(spark, args.input):
            for state, n in parse_counts(text, source=uri).items():
                counts[state] = counts.get(state, 0) + n
        rows = top_n(counts, args.top)
        replace_dataset(spark, args.output, rows)
    except InputError as exc:
        print(f"top_10: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if owned:
            spark.stop()
    print(
        f"top_10: {len(rows)} of {len(counts)} states: " + ", ".join(f"{s} {n}" for _, s, n in rows)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
