"""Take the top N states of a ``state,sightings`` dataset (count descending, then state code).

Run by ``TopTenStates`` exactly as by hand::

    spark-submit --py-files local_lake.py top_10.py --input BY_STATE_DIR --output TOP_DIR \\
        [--top 10] [--ties cut]

The output is ``rank,state,sightings``. ``--ties cut`` (default): ranks 1..N by position (a tie
at the N-th place is broken by state code, so exactly N rows are written when there are N
states). ``--ties include``: every state with the N-th count or more, with competition ranks
(1, 2, 2, 4), so states tied at the cut all appear with one rank. On a local lake
``local_lake.py`` does the run in plain Python: the input is a few dozen rows, and a SQL session
would cost seconds of CPU (under Spark Connect it runs in one Spark task).
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import re
import sys
from collections import Counter
from typing import Any

import local_lake

APP = "top_10"
INPUT_HEADER = ("state", "sightings")
OUTPUT_HEADER = ("rank", "state", "sightings")
#: What Spark's CSV reader says of a bad header or row (FAILFAST), in either kind of session.
BAD_CSV = re.compile(r"Expected: \S+ but found: \S+|record parsing: \[.*?\]")


class InputError(ValueError):
    """The input dataset is missing or not a ``state,sightings`` CSV."""


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of this script."""
    parser = argparse.ArgumentParser(prog=f"{APP}.py", description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="state,sightings dataset URI")
    parser.add_argument("--output", required=True, help="rank,state,sightings dataset URI")
    parser.add_argument("--top", type=int, default=10, help="N (default 10)")
    parser.add_argument("--ties", choices=("cut", "include"), default="cut")
    return parser


def missing(uri: str) -> InputError:
    """Return the error for an input dataset that does not exist."""
    return InputError(f"input {uri!r} does not exist; run AggregateUFOsByState first")


def cut(ordered: list[tuple[str, int]], top: int, ties: str) -> list[tuple[int, str, int]]:
    """Return (rank, state, sightings) of the top states of ``ordered`` (already sorted)."""
    if ties == "cut" or not ordered:
        return [(rank, state, n) for rank, (state, n) in enumerate(ordered[:top], 1)]
    last = ordered[:top][-1][1]
    kept = [(state, n) for state, n in ordered if n >= last]
    return [(1 + sum(m > n for _, m in kept), state, n) for state, n in kept]


def summary(ranked: list[tuple[int, str, int]], states: int) -> str:
    """Return the line a successful run prints."""
    shown = ", ".join(f"{state} {n}" for _, state, n in ranked)
    return f"{APP}: {len(ranked)} of {states} states: {shown}"


# --- The Spark path: the DataFrame API only (classic and Spark Connect alike) --------------


def rank_with_spark(spark: Any, args: argparse.Namespace) -> str:
    """Sum the input's counts per state, sort them with Spark, write the top N."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    try:
        counts = spark.read.csv(
            args.input,
            schema="state string, sightings bigint",
            header=True,
            enforceSchema=False,  # a header other than state,sightings is an error
            mode="FAILFAST",  # so is a row that is not STATE,COUNT
        )
        totals = counts.groupBy("state").agg(F.sum("sightings").alias("sightings"))
        ordered = totals.orderBy(F.desc("sightings"), F.asc("state")).collect()
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc):
            raise missing(args.input) from None
        raise
    except Exception as exc:
        found = BAD_CSV.search(str(exc))
        if found is None:
            raise
        raise InputError(
            f"input {args.input!r} is not a state,sightings CSV (Spark's reader: {found[0]}); "
            "give it AggregateUFOsByState's output"
        ) from None
    ranked = cut([(row.state, row.sightings) for row in ordered], args.top, args.ties)
    frame = spark.createDataFrame(ranked, "rank int, state string, sightings bigint")
    frame.coalesce(1).write.mode("overwrite").csv(args.output, header=True)
    return summary(ranked, len(ordered))


# --- The local lake: plain Python -----------------------------------------------------------


def parse_counts(text: str, *, source: str = "<input>") -> Counter[str]:
    """Return the sightings per state of one ``state,sightings`` CSV document (header first)."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if rows and tuple(name.strip().lower() for name in rows[0]) != INPUT_HEADER:
        raise InputError(f"{source}: header {rows[0]!r} is not {','.join(INPUT_HEADER)!r}")
    counts: Counter[str] = Counter()
    for line, row in enumerate(rows[1:], start=2):
        try:
            state, sightings = row
            counts[state] += int(sightings)
        except ValueError:
            raise InputError(f"{source}: line {line} {row!r} is not 'STATE,COUNT'") from None
    return counts


def rank_locally(args: argparse.Namespace, tasks: local_lake.Tasks) -> str:
    """Do the whole run on a local lake (local_lake.py calls it); no Spark task is needed."""
    try:
        texts = local_lake.read_texts(args.input)
    except FileNotFoundError:
        raise missing(args.input) from None
    counts: Counter[str] = Counter()
    for path, text in texts:
        counts.update(parse_counts(text, source=path))
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ranked = cut(ordered, args.top, args.ties)
    local_lake.replace_dataset(args.output, OUTPUT_HEADER, ranked)
    return summary(ranked, len(ordered))


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    """Rank the input's states and write the top N; return the process exit code."""
    args = build_parser().parse_args(argv)
    if args.top < 1:
        print(f"{APP}: error: --top {args.top!r} must be at least 1", file=sys.stderr)
        return 2
    uris = [args.input, args.output]
    try:
        with local_lake.local_runner(spark, uris, app=APP, errors=(InputError,)) as (spark, local):
            if local:
                line = local(functools.partial(rank_locally, args))
            else:
                line = rank_with_spark(spark, args)
    except InputError as exc:
        print(f"{APP}: error: {exc}", file=sys.stderr)
        return 2
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
