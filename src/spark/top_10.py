"""Take the top N states of a ``state,sightings`` dataset (count descending, then state code).

Run by ``TopTenStates`` exactly as by hand::

    spark-submit top_10.py --input BY_STATE_DIR --output TOP_DIR [--top 10]

The output is ``rank,state,sightings`` with ranks 1..N by position (a tie at the N-th place is
broken by state code, so exactly N rows are written when there are N states).

The input holds at most a few dozen rows, ranked in Python with clear errors for a bad row. Three
paths, one file, for spark-submit and ``main(argv, spark)``:

- classic session (its own, or a given one) and local datasets (a path, or ``file:``, on Hadoop's
  plain local file system): plain Python reads the parts and writes the result, with no Spark
  job and no session (run by spark-submit, the script starts no SparkContext). The part is
  written and fsynced under a hidden temporary name, the old ``_SUCCESS`` and data files are
  removed, the part is renamed into place and ``_SUCCESS`` written last
  (:func:`replace_local_dataset`);
- Spark Connect and absolute local paths (Hadoop's plain local file system on the server): the
  same plain Python, run whole by an executor in one Spark job (one server round trip);
- otherwise (Connect on ``s3a://``, ``hdfs://``, or relative paths): the DataFrame reader and
  writer (the old ``_SUCCESS`` first; Spark's writer commits the part and writes the flag last).
"""

from __future__ import annotations

import argparse
import csv
import errno
import gzip
import io
import os
import re
import secrets
import shutil
import sys
import traceback
from collections.abc import Callable, Iterable
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
    remove_local_flag(uri)
    frame.coalesce(1).write.mode("overwrite").option("header", True).csv(uri)


def read_local_parts(uri: str) -> list[tuple[str, str]]:
    """Return (path, text) of each data file of the local dataset at ``uri``, as :func:`read_parts`.

    A file, or a directory's files without ``_``/``.`` names (flags, temporary files), sorted;
    ``.gz`` parts are decompressed, and bytes that are not UTF-8 replaced, as Spark's reader does.
    """
    path = os.path.abspath(_local_path(uri) or uri)
    if os.path.isdir(path):
        names = (n for n in sorted(os.listdir(path)) if not n.startswith(("_", ".")))
        files = [p for p in (os.path.join(path, n) for n in names) if os.path.isfile(p)]
    elif os.path.isfile(path):
        files = [path]
    else:
        raise InputError(f"input {uri!r} does not exist; run AggregateUFOsByState first")
    parts = []
    for file in files:
        with (gzip.open if file.endswith(".gz") else open)(file, "rb") as fh:
            parts.append((file, fh.read().decode("utf-8", errors="replace")))
    return parts


def fast_path(spark: Any, local: bool) -> bool:
    """Tell whether to read and write in plain Python: local datasets, a classic session.

    The session is ``spark``, or when it is None this process's own (none is started), and
    ``file:`` must be Hadoop's plain local file system.
    """
    if not local:
        return False
    if spark is None:
        conf = classic_conf()
        return conf is not None and plain_local_fs(conf)
    if _is_connect(spark):
        return False
    return plain_local_fs(spark.sparkContext.getConf())  # spark-connect: classic-only


# --- Local datasets and the session's kind: the same code in aggregate_by_state.py and top_10.py
# (tests/unit/test_local_replace_kill.py checks that the copies agree) ---

PART_NAME = "part-00000.csv"
FLAG_NAME = "_SUCCESS"
#: A part being written: hidden (``.``), so Spark's file index, the scripts' own listings and
#: luigi_ufo's part listing all skip it, and the next replacement removes a killed run's copy.
TEMP_PREFIX = ".luigi-ufo-tmp-"
_HADOOP_LOCAL_FS = (None, "org.apache.hadoop.fs.LocalFileSystem")


def _local_path(uri: str) -> str | None:
    """Return the local path of ``uri``, or None if it is on another file system.

    ``file:`` URIs come from Spark's file index, percent-encoded; a path without a scheme (an
    --output argument) is taken as it is: '#', '?' and '%' in it are literal characters.
    """
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return None if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri) else uri


def _is_connect(spark: Any) -> bool:
    """Tell whether ``spark`` is a Spark Connect session (no SparkContext behind it)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def classic_conf() -> Any:
    """Return this process's SparkConf, or None if ``SparkSession.builder`` would give Connect.

    Connect comes from ``spark-submit --remote``, ``SPARK_REMOTE``, ``spark.api.mode=connect``
    or a pyspark-client install; this checks the same signals as the builder (a doubt means
    Connect: the DataFrame path runs in both kinds of session).
    """
    from pyspark import SparkConf, util

    env = os.environ
    remote_only: Callable[[], bool] = getattr(util, "is_remote_only", lambda: False)
    if remote_only() or {"SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED"} & env.keys():
        return None
    mode = env.get("SPARK_API_MODE", "").lower()
    if mode not in ("classic", "connect"):
        mode = getattr(util, "default_api_mode", lambda: "classic")()
    if mode == "connect":
        return None
    from pyspark import SparkContext  # spark-connect: classic-only

    # The JVM gateway first (spark-submit's, or a new one): without it no --conf is loaded.
    SparkContext._ensure_initialized()
    conf = SparkConf()
    connect = conf.get("spark.remote", None) or conf.get("spark.api.mode", "") == "connect"
    return None if connect else conf


def plain_local_fs(conf: Any) -> bool:
    """Tell whether ``file:`` is Hadoop's own local file system in ``conf`` (a SparkConf).

    A configured replacement (``spark.hadoop.fs.file.impl``) must see every write, so Python
    must not write around it: such a session takes the DataFrame path.
    """
    return conf.get("spark.hadoop.fs.file.impl", None) in _HADOOP_LOCAL_FS


def remove_local_flag(uri: str) -> None:
    """Delete the ``_SUCCESS`` flag of a local dataset (synced) before it is replaced.

    Spark's overwrite deletes the directory first; on a local file system that delete goes file
    by file, so a kill in it could leave the flag without the data. HDFS deletes a directory in
    one operation and s3a a small partition in one bulk request; in every mode the task removed
    the flags before the run (this covers runs by hand).
    """
    path = _local_path(uri)
    if path is None:
        return
    try:
        os.remove(os.path.join(path, FLAG_NAME))
    except (FileNotFoundError, NotADirectoryError):
        return
    _sync_dir(path)


def render_csv(header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> bytes:
    """Return a CSV document, header first, as Spark's CSV writer renders these rows (UTF-8)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _write_synced(path: str, data: bytes, flags: int = 0) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flags, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: str) -> None:
    """Make the creations, renames and removals in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # a file system that cannot sync a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def replace_local_dataset(uri: str, header: tuple[str, ...], rows: list[Any]) -> None:
    """Replace the local dataset at ``uri`` with ``rows`` in one part; ``_SUCCESS`` comes last.

    The part is written and fsynced under a hidden temporary name; then the old flag is removed
    (synced), then every other old entry (data files, checksums, a killed run's temporary files
    and directories), the part is renamed to ``part-00000.csv``, the directory synced, and the
    new flag written last. A kill at any point leaves the old complete dataset, or no flag: never
    a flag over missing or partial data.
    """
    path = _local_path(uri)
    if path is None:
        raise ValueError(f"{uri!r} is not a local path")
    os.makedirs(path, exist_ok=True)
    temp = os.path.join(path, f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}")
    _write_synced(temp, render_csv(header, rows), os.O_EXCL)
    remove_local_flag(path)
    for name in sorted(os.listdir(path)):
        old = os.path.join(path, name)
        if old == temp:
            continue
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old)
        else:
            os.remove(old)
    os.replace(temp, os.path.join(path, PART_NAME))
    _sync_dir(path)
    _write_synced(os.path.join(path, FLAG_NAME), b"")
    _sync_dir(path)


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


def rank_parts(parts: list[tuple[str, str]], top: int) -> tuple[list[tuple[int, str, int]], str]:
    """Return the top rows of the parts' counts and the line a successful run prints."""
    counts: dict[str, int] = {}
    for uri, text in parts:
        for state, n in parse_counts(text, source=uri).items():
            counts[state] = counts.get(state, 0) + n
    rows = top_n(counts, top)
    line = f"top_10: {len(rows)} of {len(counts)} states: " + ", ".join(
        f"{s} {n}" for _, s, n in rows
    )
    return rows, line


def rank_locally(input_uri: str, output_uri: str, top: int) -> str:
    """Read, rank and replace local datasets in plain Python; return the summary line."""
    rows, line = rank_parts(read_local_parts(input_uri), top)
    replace_local_dataset(output_uri, OUTPUT_HEADER, rows)
    return line


# --- Spark Connect on a local lake: one Spark job in which an executor does the whole run ---

#: What the job returns: main()'s error message (or the exception line of an unexpected
#: failure, whose traceback follows), and the summary line on success.
RUN_RESULT = "struct<error:string,trace:string,summary:string>"


class RunFailed(RuntimeError):
    """The run failed on the executor with an unexpected exception (its traceback included)."""


def _ship_by_value() -> None:
    # Imported as luigi_ufo.scripts.* (tests, the CLI), functions would pickle by reference and
    # executors would need luigi_ufo installed; by value they need only pyspark, like spark-submit.
    if __name__ != "__main__":
        from pyspark import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]


def absolute_local(uris: list[str]) -> bool:
    """Tell whether every URI is an absolute local path (or ``file:`` URI).

    Relative paths would resolve against the executors' working directory, not the caller's.
    """
    paths = [_local_path(u) for u in uris]
    return all(p is not None and os.path.isabs(p) for p in paths)


def one_job_fits(spark: Any, uris: list[str]) -> bool:
    """Tell whether executors can do a run whole: Spark Connect, absolute local paths, and
    Hadoop's plain local file system on the server (whose executors see those paths, as Spark's
    own ``file:`` reads and writes assume)."""
    return absolute_local(uris) and _is_connect(spark) and plain_local_fs(spark.conf)


def rank_here(input_uri: str, output_uri: str, top: int) -> tuple[str, str, str]:
    """Do the whole run in this process (an executor); return ``RUN_RESULT``, never raising."""
    try:
        return "", "", rank_locally(input_uri, output_uri, top)
    except InputError as exc:
        return f"top_10: error: {exc}", "", ""
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}", traceback.format_exc(), ""


def rank_in_one_job(spark: Any, input_uri: str, output_uri: str, top: int) -> str:
    """Run :func:`rank_here` as one Spark job of one task; return the summary line.

    One server round trip instead of a read job and a write job. Raises InputError for bad input
    and RunFailed, with the executor's traceback, for anything else.
    """
    from pyspark.sql import functions as F

    _ship_by_value()
    do = F.udf(lambda _: rank_here(input_uri, output_uri, top), RUN_RESULT, useArrow=False)
    ((error, trace, summary),) = (
        spark.range(0, 1, 1, 1).select(do("id").alias("r")).select("r.*").collect()
    )
    if trace:
        raise RunFailed(f"{error}\n  its traceback on the executor:\n{trace}")
    if error:
        raise InputError(error.removeprefix("top_10: error: "))
    return str(summary)


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    """Rank the input's states and write the top N; return the process exit code."""
    args = build_parser().parse_args(argv)
    if args.top < 1:
        print(f"top_10: error: --top {args.top!r} must be at least 1", file=sys.stderr)
        return 2
    fast = fast_path(spark, all(_local_path(u) is not None for u in (args.input, args.output)))
    spark, owned = (spark, False) if fast else _session(spark)
    try:
        if fast:
            line = rank_locally(args.input, args.output, args.top)
        elif one_job_fits(spark, [args.input, args.output]):
            line = rank_in_one_job(spark, args.input, args.output, args.top)
        else:
            rows, line = rank_parts(read_parts(spark, args.input), args.top)
            replace_dataset(spark, args.output, rows)
    except InputError as exc:
        print(f"top_10: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if owned:
            spark.stop()
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
