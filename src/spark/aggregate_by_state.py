"""Count NUFORC sightings per US state by rule R1, and every uncounted record by its reason.

Run by ``AggregateUFOsByState`` exactly as by hand::

    spark-submit --py-files nuforc.py,local_lake.py aggregate_by_state.py \\
        --input RAW_DIR_OR_FILE --output BY_STATE_DIR --rejected-output REJECTED_DIR \\
        [--samples-output SAMPLES_DIR] [--encoding utf-8] [--delimiter ,] \\
        [--country-rule us-or-blank] [--decode-errors strict] [--max-rejected-fraction 1.0] \\
        [--state-column state] [--country-column country]

Rule R1, the layouts and the reasons a record is not counted are in ``nuforc.py``. Each input
file goes to a Spark task of its own, which streams it through Python's csv module: Spark's CSV
reader took 5.8 s of job time on the 16 MB primary file where the csv module takes 0.2 s, and it
cannot count undecodable bytes. The driver adds up the files' counts and writes two tiny
datasets, ``reason,records`` (every reason, zeros included), with ``--samples-output``
``reason,sample`` (the first rejected record of each reason), and then ``state,sightings``. A run
without records, or with all of them (or more than ``--max-rejected-fraction``) rejected, writes
nothing and fails naming the main reason and a sample record.

On a local lake ``local_lake.py`` runs the same steps without a SQL session (under Spark
Connect: in one Spark job, and ``main_batch`` does many runs in one job).
"""

from __future__ import annotations

import argparse
import functools
import io
import sys
from collections.abc import Callable
from typing import Any

import local_lake
import nuforc
from nuforc import FileCounts, InputError

APP = "aggregate_by_state"
STATE_HEADER = ("state", "sightings")
REJECTED_HEADER = ("reason", "records")
SAMPLE_HEADER = ("reason", "sample")
Write = Callable[[str, tuple[str, str], list[tuple[str, Any]]], None]
#: What the counting UDF returns per file (``error``: the file's InputError message).
COUNTS = (
    "struct<records:bigint,states:map<string,bigint>,rejected:map<string,bigint>,"
    "samples:map<string,string>,error:string>"
)


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of this script."""
    parser = argparse.ArgumentParser(prog=f"{APP}.py", description=__doc__.split("\n")[0])
    parser.add_argument("--input", action="append", required=True, help="file or directory URI")
    parser.add_argument("--output", required=True, help="dataset URI for state,sightings")
    parser.add_argument("--rejected-output", required=True, help="dataset URI for reason,records")
    parser.add_argument("--samples-output", help="dataset URI for reason,sample (optional)")
    parser.add_argument("--encoding", default="utf-8", help="e.g. utf-8, cp1252")
    parser.add_argument(
        "--delimiter", type=nuforc.parse_delimiter, default=",", help="',' or 'tab'"
    )
    parser.add_argument("--country-rule", choices=nuforc.COUNTRY_RULES, default="us-or-blank")
    parser.add_argument("--decode-errors", choices=nuforc.DECODE_ERRORS, default="strict")
    parser.add_argument(
        "--max-rejected-fraction",
        type=nuforc.parse_fraction,
        default=1.0,
        help="fail, writing nothing, when more than this share of the records is rejected "
        "(default 1.0: only when all are)",
    )
    parser.add_argument("--state-column", default="", help="default: the column named state")
    parser.add_argument(
        "--country-column", default="", help="default: country or country_code, else none"
    )
    return parser


def options_of(args: argparse.Namespace) -> nuforc.Options:
    """Return the reading options of parsed arguments."""
    return nuforc.Options(
        args.encoding,
        args.delimiter,
        args.country_rule,
        args.decode_errors,
        args.max_rejected_fraction,
        args.state_column,
        args.country_column,
    )


# --- The Spark path: the DataFrame API only (classic and Spark Connect alike) --------------


def count_with_spark(spark: Any, args: argparse.Namespace) -> tuple[int, FileCounts]:
    """Count every input file in a Spark task; return (files, counts) or raise InputError."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    options = options_of(args)

    def count(path: str, content: bytes) -> tuple[Any, ...]:
        try:
            found = nuforc.count_stream(lambda: io.BytesIO(content), options, source=path)
        except InputError as exc:
            return 0, {}, {}, {}, str(exc)
        return found.records, dict(found.states), dict(found.rejected), found.samples, None

    try:
        files = spark.read.format("binaryFile").load(args.input)
        counted = files.select("path", F.udf(count, COUNTS, useArrow=False)("path", "content"))
        rows = sorted(counted.collect())  # by path: the first bad file is named
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise InputError(f"input {args.input!r} does not exist; check --input") from None
        raise
    if not rows:
        raise InputError(f"input {args.input!r} holds no data files (only flags or hidden files)")
    total = FileCounts()
    for _, (records, states, rejected, samples, error) in rows:
        if error:
            raise InputError(error)
        total.add(FileCounts(states=states, rejected=rejected, records=records, samples=samples))
    return len(rows), total


def write_with_spark(spark: Any, uri: str, header: tuple[str, str], rows: list[Any]) -> None:
    """Replace the dataset at ``uri`` with ``rows``, one CSV part (Spark writes ``_SUCCESS``)."""
    kind = "string" if header == SAMPLE_HEADER else "bigint"
    frame = spark.createDataFrame(rows, f"{header[0]} string, {header[1]} {kind}")
    frame.coalesce(1).write.mode("overwrite").csv(uri, header=True)


# --- The local lake: the same steps, files counted by local_lake's tasks -------------------


def count_locally(args: argparse.Namespace, tasks: local_lake.Tasks) -> tuple[int, FileCounts]:
    """Count the local input files, one Spark task each; return (files, counts)."""
    files = []
    for uri in args.input:
        try:
            found = local_lake.list_files(uri)
        except FileNotFoundError:
            raise InputError(f"input {uri!r} does not exist; check --input") from None
        if not found:
            raise InputError(f"input {uri!r} holds no data files (only flags or hidden files)")
        files += found
    counted = tasks(functools.partial(nuforc.count_file, options=options_of(args)), files)
    return len(files), functools.reduce(FileCounts.add, counted, FileCounts())


def aggregate(args: argparse.Namespace, counted: tuple[int, FileCounts], write: Write) -> str:
    """Refuse the counts, or write the rejected counts then the states; return the line a
    successful run prints."""
    files, counts = counted
    source = ", ".join(args.input)
    refused = nuforc.rejected_fraction_error(counts, args.max_rejected_fraction, source=source)
    if refused:
        raise InputError(refused)
    write(args.rejected_output, REJECTED_HEADER, counts.rejected_rows())
    if args.samples_output:
        samples = [(r, counts.samples[r]) for r in nuforc.REASONS if r in counts.samples]
        write(args.samples_output, SAMPLE_HEADER, samples)  # REASONS order, as reason,records
    write(args.output, STATE_HEADER, counts.state_rows())
    rejected = dict(sorted(counts.rejected.items()))
    return (
        f"{APP}: {files} file(s), {counts.records} records, {counts.counted} counted in "
        f"{len(counts.states)} states, {counts.records - counts.counted} rejected {rejected}"
    )


def run_locally(args: argparse.Namespace, tasks: local_lake.Tasks) -> str:
    """Do the whole run on a local lake (local_lake.py calls it)."""
    return aggregate(args, count_locally(args, tasks), local_lake.replace_dataset)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Return the parsed arguments; raise InputError for an encoding Python does not know."""
    args = build_parser().parse_args(argv)
    nuforc.check_encoding(args.encoding)
    return args


def uris(args: argparse.Namespace) -> list[str]:
    """Return every input and output URI of a run."""
    return [*args.input, args.output, args.rejected_output, *filter(None, [args.samples_output])]


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    """Aggregate the inputs and write both outputs; return the process exit code."""
    try:
        args = parse(argv)
        with local_lake.local_runner(spark, uris(args), app=APP, errors=(InputError,)) as (
            spark,
            local,
        ):
            if local:
                summary = local(functools.partial(run_locally, args))
            else:
                write = functools.partial(write_with_spark, spark)
                summary = aggregate(args, count_with_spark(spark, args), write)
    except InputError as exc:
        print(f"{APP}: error: {exc}", file=sys.stderr)
        return 2
    print(summary)
    return 0


def main_batch(runs: list[tuple[str, list[str]]], spark: Any) -> dict[str, int | str]:
    """Do SparkBackfill's runs that are on a local lake under Spark Connect in one Spark job."""
    return local_lake.run_batch(
        spark, runs, parse, uris, run_locally, app=APP, errors=(InputError,)
    )


if __name__ == "__main__":
    sys.exit(main())
