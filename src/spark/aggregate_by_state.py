"""Count NUFORC sightings per US state by rule R1, and every uncounted record by its reason.

Run by ``AggregateUFOsByState`` exactly as by hand::

    spark-submit aggregate_by_state.py --input RAW_DIR_OR_FILE --output BY_STATE_DIR \
        --rejected-output REJECTED_DIR [--encoding utf-8] [--delimiter ,] \
        [--country-rule us-or-blank] [--decode-errors strict] [--max-rejected-fraction 1.0]

or as ``main(argv, spark)`` with a classic or a Spark Connect session, or for many runs at once
as ``main_batch(runs, spark)`` (SparkBackfill). Three paths, one file:

- classic session (its own, or a given one) and local inputs and outputs (a path, or ``file:``,
  on Hadoop's plain local file system): no SQL session or planning. A SparkContext counts the
  files, one task per file, and the driver writes the tiny outputs with plain Python;
- Spark Connect and absolute local paths (Hadoop's plain local file system on the server): one
  Spark job in which an executor lists, counts and writes a whole run with the same code
  (``main_batch``: every run of the batch in that one job, a few per task);
- otherwise (Connect on ``s3a://``, ``hdfs://``, or relative paths): the DataFrame API only (no
  RDD, no SparkContext, no JVM gateway). The classic-only lines carry a
  ``# spark-connect: classic-only`` pragma for the Connect guard.

Rule R1 (../shared/data/ufo/README.md): parse RFC-4180 CSV (``"`` quotes, ``""`` inside a field,
fields may span lines); drop records equal to the header; ``state = upper(trim(State))``; keep the
50 states and DC; no de-duplication, no date filter. Each file's header is checked: the NUFORC
7-column index export, or a Kaggle ``scrubbed.csv`` layout (any header with ``state`` and
``country`` columns), where the country rule below also applies to rows with a US state code.

Country rules (Kaggle layout only; the NUFORC layout has no country column):
``us-or-blank`` (default): country ``us`` or blank, so a US state code with a blank country counts;
``us``: country must be ``us``; ``any``: the country is ignored.

Every record after a file's first header is either counted under its state or counted under one
reason of ``REASONS``, so ``sum(states) + sum(rejected) == records``. A run without records, or
whose records are all (or more than ``--max-rejected-fraction``) rejected, fails naming the main
reason and a sample record, and writes nothing. Outputs are tiny CSV datasets (``state,sightings``
and ``reason,records``) replaced crash-safely, the rejected counts before the states so the states'
flag means both are complete. The states' old ``_SUCCESS`` goes first; then, per dataset, locally:
the new part is written and fsynced under a hidden temporary name, the old ``_SUCCESS`` and data
files are removed, the part is renamed into place and ``_SUCCESS`` written last (see
:func:`replace_local_dataset`); on the DataFrame path the old ``_SUCCESS`` goes first and Spark's
writer commits the part and writes the new ``_SUCCESS`` last.

Why not ``spark.read.csv(multiLine=True)``: a multi-line CSV file is one unsplittable partition
either way, and Spark's parser took 5.8 s of job time on the 16 MB primary file where Python's C
``csv`` module takes 0.2 s; Spark also cannot fail on, or count, undecodable bytes. So Spark
distributes files (one task per file, a Python UDF returning the file's counts) and Python
parses each file as a stream, with no limit on a field's size.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import errno
import functools
import gzip
import io
import itertools
import os
import re
import secrets
import shutil
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast
from urllib.parse import unquote, urlparse

US_STATES = frozenset((
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY",
))  # fmt: skip
REASONS = (
    "repeated_header",
    "blank_state",
    "not_us_state",
    "foreign_country",
    "malformed_record",
    "blank_line",
    "undecodable_bytes",
)
COUNTRY_RULES = ("us-or-blank", "us", "any")
DECODE_ERRORS = ("strict", "replace")
NUFORC_HEADER = ("date/time", "city", "state", "shape", "duration", "summary", "posted")
STATE_HEADER = ("state", "sightings")
REJECTED_HEADER = ("reason", "records")
INT_COLUMNS = frozenset({"sightings", "records"})
#: Encodings tried, when a header is not recognised, to tell the user which --encoding fits.
CANDIDATE_ENCODINGS = ("utf-8", "cp1252", "utf-16")
_SAMPLE_CHARS = 200
# A lone surrogate can only come from the surrogateescape handler: it marks an undecodable byte.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class InputError(ValueError):
    """An input file is not a readable NUFORC/Kaggle export (header, encoding, emptiness)."""


@dataclass(frozen=True)
class Layout:
    """Where the state (and country) sit in a file's records."""

    name: str
    header: tuple[str, ...]
    state: int
    country: int | None = None

    @property
    def width(self) -> int:
        return len(self.header)


@dataclass(frozen=True)
class Options:
    """How to read and count a file."""

    encoding: str = "utf-8"
    delimiter: str = ","
    country_rule: str = "us-or-blank"
    decode_errors: str = "strict"
    max_rejected_fraction: float = 1.0


@dataclass
class FileCounts:
    """Counts of one or more files: states counted, records rejected by reason, records seen."""

    states: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    records: int = 0
    #: The first record of each rejection reason, as "FILE, line N: 'RECORD'".
    samples: dict[str, str] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        return sum(self.states.values())


def normalize_header(names: Iterable[str]) -> tuple[str, ...]:
    """Return header names lower-cased without whitespace (``"Date / Time"`` -> ``"date/time"``)."""
    return tuple("".join(name.split()).lower() for name in names)


def detect_layout(header: list[str], *, source: str = "<input>") -> Layout:
    """Return the layout of a file from its first record, or raise InputError."""
    names = normalize_header([header[0].lstrip("\ufeff"), *header[1:]] if header else [])
    if names == NUFORC_HEADER:
        return Layout("nuforc", names, state=NUFORC_HEADER.index("state"))
    if "state" in names and "country" in names:
        return Layout("kaggle", names, state=names.index("state"), country=names.index("country"))
    raise InputError(
        f"{source}: header {header!r} is not a NUFORC export; expected "
        f"'Date / Time,City,State,Shape,Duration,Summary,Posted' or a Kaggle layout with "
        f"'state' and 'country' columns (check --delimiter, and --encoding for odd characters)"
    )


def classify_record(record: list[str], layout: Layout, country_rule: str = "us-or-blank") -> str:
    """Return the US state code a record counts for, or the reason (one of REASONS) it does not.

    Reasons are lower-case words, state codes upper-case, so the two never collide.
    """
    if not record:
        return "blank_line"
    if len(record) != layout.width:
        return "malformed_record"
    state = record[layout.state].strip().upper()
    if state in US_STATES:
        if layout.country is None or country_rule == "any":
            return state
        country = record[layout.country].strip().lower()
        if country == "us" or (not country and country_rule == "us-or-blank"):
            return state
        return "foreign_country"
    if normalize_header(record) == layout.header:
        return "repeated_header"
    return "not_us_state" if state else "blank_state"


def count_records(
    records: Iterable[list[str]],
    options: Options = Options(),
    *,
    source: str = "<input>",
    line_of: Callable[[], int] | None = None,
    quote_left_open: Callable[[int], bool] | None = None,
) -> FileCounts:
    """Count a file's records (its header first) by rule R1.

    ``line_of()`` gives the number of the last line read (a csv reader's ``line_num``), so each
    reason's first record is kept with the line where it starts. ``quote_left_open(line)`` tells
    whether the last record, from ``line``, is a quote never closed (checked only when that
    record is malformed and spans lines).
    """
    it = iter(records)
    try:
        header = next(it)
    except StopIteration:
        raise InputError(f"{source}: file is empty; expected a NUFORC header line") from None
    layout = detect_layout(header, source=source)
    counts = FileCounts()
    tally: Counter[str] = Counter()
    check_bytes = options.decode_errors == "replace"
    start = end = line_of() if line_of else 1
    key, record = "", header
    for record in it:
        start, end = end + 1, line_of() if line_of else end + 1
        if check_bytes and any(_UNDECODABLE.search(f) for f in record):
            key = "undecodable_bytes"
        else:
            key = classify_record(record, layout, options.country_rule)
        tally[key] += 1
        if key in REASONS and key not in counts.samples:
            text = render_record(record, options.delimiter)
            counts.samples[key] = f"{source}, line {start}: {text!r}"
    spans_lines = any("\n" in f or "\r" in f for f in record)
    if key == "malformed_record" and spans_lines and quote_left_open and quote_left_open(start):
        raise InputError(
            f"{source}: the record starting at line {start} has a quote that is never closed, "
            f"so it swallows the {end - start} lines after it to the end of the file: fix its "
            "quoting (a field holding a quote is quoted, with its quotes doubled)"
        )
    for key, n in tally.items():
        (counts.rejected if key in REASONS else counts.states)[key] = n
    counts.records = sum(tally.values())
    return counts


def render_record(record: list[str], delimiter: str = ",") -> str:
    """Return a record as one CSV line, cut to a readable length (for error messages)."""
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(record)
    text = out.getvalue()
    return text if len(text) <= _SAMPLE_CHARS else text[:_SAMPLE_CHARS] + "..."


def rejected_fraction_error(
    counts: FileCounts, limit: float, *, source: str = "the input"
) -> str | None:
    """Return why ``counts`` must not be written (no records, all or more than ``limit``
    rejected), or None.

    Such a run is a wrong export or wrong settings, not a date with no sightings: writing its
    empty counts would load an empty top-N over the date's good rows.
    """
    if counts.records == 0:
        return (
            f"{source}: no records after the header; nothing was written. Check that the export "
            "is complete (a header alone is what an interrupted download or an empty query "
            "leaves)"
        )
    rejected = counts.records - counts.counted
    if rejected < counts.records and rejected <= limit * counts.records:
        return None
    reason, n = max(counts.rejected.items(), key=lambda kv: (kv[1], kv[0]))
    sample = counts.samples.get(reason, "no sample kept")
    share = "all" if rejected == counts.records else f"{rejected / counts.records:.1%}"
    return (
        f"{source}: {rejected} of {counts.records} records ({share}) were rejected, above "
        f"--max-rejected-fraction {limit}; most are {reason!r} ({n}), e.g. {sample}; "
        f"nothing was written. {_REASON_FIXES.get(reason, 'Check the export and the settings')}, "
        "or raise [ufo] max_rejected_fraction if this is expected"
    )


_REASON_FIXES = {
    "malformed_record": "Check --delimiter and that every record has the header's columns",
    "undecodable_bytes": "Check --encoding (e.g. cp1252 for older NUFORC exports)",
    "foreign_country": "Check --country-rule",
    "not_us_state": "Check that the State column holds US state codes",
    "blank_state": "Check that the State column is filled",
    "repeated_header": "Check that the file holds data and not only headers",
    "blank_line": "Check that the file holds data and not only blank lines",
}


def parse_delimiter(text: str) -> str:
    """Return the one-character delimiter for ``text`` (``\\t``, ``tab`` and ``comma`` spelled)."""
    named = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1 or value in {'"', "\r", "\n"}:
        raise argparse.ArgumentTypeError(f"delimiter {text!r} must be one character (or 'tab')")
    return value


def parse_fraction(text: str) -> float:
    """Return a fraction between 0 and 1 given as text."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"fraction {text!r} must be a number from 0 to 1")
    return value


def maybe_gunzip(raw: IO[bytes]) -> IO[bytes]:
    """Return a stream of the decompressed bytes if ``raw`` is gzip, else ``raw`` buffered."""
    buffered: Any = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=buffered, mode="rb"))
    return cast(IO[bytes], buffered)


def find_decode_error(data: IO[bytes], encoding: str) -> tuple[int, bytes] | None:
    """Return (byte offset, offending bytes) of the first undecodable byte, or None."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    consumed = 0
    while True:
        chunk = data.read(_CHUNK)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            start = consumed - pending + exc.start
            return start, bytes(exc.object[exc.start : exc.end])
        except UnicodeError:  # a codec's own check, e.g. a missing byte-order mark
            return consumed - pending, chunk[:4]
        if not chunk:
            return None
        consumed += len(chunk)


def _csv_reader(text: IO[str], delimiter: str) -> Any:
    return csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)


@contextlib.contextmanager
def unlimited_fields() -> Iterator[None]:
    """Lift the csv module's 128 KiB field limit while reading: large fields are legitimate."""
    old = csv.field_size_limit()
    try:
        csv.field_size_limit(sys.maxsize)
    except OverflowError:  # a C long of 32 bits (Windows)
        csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def check_encoding(name: str) -> str:
    """Return the codec name to decode an export with, or raise InputError naming the fix.

    UTF-8 reads as ``utf-8-sig``, so a byte-order mark never sticks to the first header field
    (``\\ufeff"Date / Time"`` is then a quoted field like any other).
    """
    try:
        info = codecs.lookup(name)
        io.TextIOWrapper(io.BytesIO(b""), encoding=name)
    except LookupError as exc:
        what = (
            f"encoding {name!r} is not a text encoding"
            if "text encoding" in str(exc)
            else f"unknown encoding {name!r}"
        )
        raise InputError(
            f"{what} (--encoding); use the text encoding the export is written in, "
            "such as utf-8, cp1252 or latin-1"
        ) from None
    return "utf-8-sig" if info.name == "utf-8" else name


def suggest_encoding(head: bytes, encoding: str, delimiter: str) -> str:
    """Return an encoding (of ``CANDIDATE_ENCODINGS``) under which ``head`` starts with a known
    header, or ""."""
    for candidate in CANDIDATE_ENCODINGS:
        if codecs.lookup(candidate).name == codecs.lookup(encoding).name:
            continue
        text = head.decode(check_encoding(candidate), errors="ignore")
        header = next(_csv_reader(io.StringIO(text, newline=""), delimiter), None)
        with contextlib.suppress(InputError):
            detect_layout(header or [])
            return candidate
    return ""


def count_stream(
    opener: Callable[[], IO[bytes]], options: Options = Options(), *, source: str = "<input>"
) -> FileCounts:
    """Count one file (plain or gzip) read from ``opener()``; raise InputError on bad input."""
    errors = "surrogateescape" if options.decode_errors == "replace" else "strict"
    encoding = check_encoding(options.encoding)
    with (
        opener() as raw,
        io.TextIOWrapper(maybe_gunzip(raw), encoding=encoding, errors=errors, newline="") as text,
        unlimited_fields(),
    ):
        reader = _csv_reader(text, options.delimiter)

        def quote_left_open(line: int) -> bool:
            with opener() as again:
                lines = io.TextIOWrapper(maybe_gunzip(again), encoding=encoding, newline="")
                tail = "".join(itertools.islice(lines, line - 1, None))
            try:
                list(
                    csv.reader(
                        io.StringIO(tail, newline=""), delimiter=options.delimiter, strict=True
                    )
                )
            except csv.Error as exc:
                return "unexpected end of data" in str(exc)
            return False

        try:
            return count_records(
                reader,
                options,
                source=source,
                line_of=lambda: reader.line_num,
                quote_left_open=quote_left_open,
            )
        except UnicodeError:
            pass
        except InputError as exc:
            if "is not a NUFORC export" not in str(exc):
                raise
            raise InputError(f"{exc}{encoding_hint(_head(opener), options)}") from None
        except csv.Error as exc:
            raise InputError(
                f"{source}: unreadable CSV near line {reader.line_num} ({exc}); fix that record, "
                "or check --delimiter and --encoding"
            ) from None
        except EOFError:
            raise InputError(
                f"{source}: the gzip stream ends early; the file is truncated"
            ) from None
    with opener() as raw:
        found = find_decode_error(maybe_gunzip(raw), options.encoding)
    offset, bad = found if found else (-1, b"")
    hint = suggest_encoding(_head(opener), options.encoding, options.delimiter)
    raise InputError(decode_error_message(source, offset, bad, options.encoding, hint))


def encoding_hint(head: bytes, options: Options) -> str:
    """Return "; it reads as an export with --encoding X" when some X fits ``head``, or ""."""
    found = suggest_encoding(head, options.encoding, options.delimiter)
    return f"; it reads as an export with --encoding {found}" if found else ""


def _head(opener: Callable[[], IO[bytes]]) -> bytes:
    with opener() as raw:
        return maybe_gunzip(raw).read(_CHUNK)


def decode_error_message(source: str, offset: int, bad: bytes, encoding: str, fits: str) -> str:
    """Return the error for undecodable bytes at ``offset``, naming the encoding to try.

    ``fits`` is :func:`suggest_encoding`'s finding ("" if none).
    """
    if fits:
        fix = f"--encoding {fits} (the header reads with it)"
    else:
        fix = (
            "--encoding cp1252"
            if codecs.lookup(encoding).name != "cp1252"
            else "another --encoding"
        )
    return (
        f"{source}: bytes {bad!r} at byte offset {offset} are not valid {encoding!r} (offsets "
        f"count the decompressed data); try {fix}, or --decode-errors replace to count such "
        "records as 'undecodable_bytes'"
    )


def count_local_file(path: str, options: Options) -> FileCounts | str:
    """Count a local file; return the error message instead of raising (it crosses a process)."""
    try:
        return count_stream(lambda: open(path, "rb"), options, source=path)
    except (InputError, OSError) as exc:
        return str(exc)


def count_bytes(uri: str, data: bytes, options: Options) -> FileCounts | str:
    """Count a file whose bytes Spark read (remote file systems); return errors as text."""
    try:
        return count_stream(lambda: io.BytesIO(data), options, source=uri)
    except InputError as exc:
        return str(exc)


def state_rows(counts: FileCounts) -> list[tuple[str, int]]:
    """Return (state, sightings) sorted by sightings descending, then state code."""
    return sorted(counts.states.items(), key=lambda kv: (-kv[1], kv[0]))


def rejected_rows(counts: FileCounts) -> list[tuple[str, int]]:
    """Return (reason, records) for every reason, zeros included, in REASONS order."""
    return [(reason, counts.rejected.get(reason, 0)) for reason in REASONS]


# --- Spark side. Both paths count a file in a task (count_rows, merge_rows); the DataFrame path
# (Spark Connect, or storage that is not local) uses the DataFrame API only ---

#: What the counting UDF returns per file: ("state", code, n), ("rejected", reason, n),
#: ("records", "", n), ("sample", reason, 0) with ``detail`` its first record, or
#: ("error", "", 0) with ``detail`` the file's error message.
COUNT_ROWS = "array<struct<kind:string,key:string,n:bigint,detail:string>>"
CountRow = tuple[str, str, int, str]


def count_rows(result: FileCounts | str) -> list[CountRow]:
    """Flatten one file's counts (or its error message) into rows of ``COUNT_ROWS``."""
    if isinstance(result, str):
        return [("error", "", 0, result)]
    rows: list[CountRow] = [("records", "", result.records, "")]
    rows += [("state", k, n, "") for k, n in result.states.items()]
    rows += [("rejected", k, n, "") for k, n in result.rejected.items()]
    rows += [("sample", k, 0, text) for k, text in result.samples.items()]
    return rows


def merge_rows(rows: Iterable[tuple[Any, ...]]) -> FileCounts:
    """Add up the rows of every file; raise InputError for the first file that failed."""
    rows = sorted(rows, key=lambda r: (r[0] != "error", r[3] or ""))  # first bad file by name
    if rows and rows[0][0] == "error":
        raise InputError(rows[0][3])
    total = FileCounts()
    for kind, key, n, detail in rows:
        if kind == "records":
            total.records += n
        elif kind == "state":
            total.states[key] += n
        elif kind == "rejected":
            total.rejected[key] += n
        else:
            total.samples.setdefault(key, detail)
    return total


def list_files(spark: Any, uri: str) -> list[str]:
    """Return the data files at ``uri`` (a file, or a directory's files without ``_``/``.``).

    Spark's file index lists them (file:, s3a:, hdfs: alike); ``inputFiles()`` runs no job and
    reads no content.
    """
    from pyspark.errors import AnalysisException

    try:
        files = spark.read.format("binaryFile").load(uri).inputFiles()
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise InputError(f"input {uri!r} does not exist; check --input") from None
        raise
    if not files:
        raise InputError(f"input {uri!r} holds no data files (only flags or hidden files)")
    return sorted(files)


def _ship_by_value() -> None:
    # Imported as luigi_ufo.scripts.* (tests, the CLI), functions would pickle by reference and
    # executors would need luigi_ufo installed; by value they need only pyspark, like spark-submit.
    if __name__ != "__main__":
        from pyspark import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]


def count_files(spark: Any, files: list[str], options: Options) -> FileCounts:
    """Count every file in Spark tasks; raise InputError for the first bad file."""
    from pyspark.sql import functions as F

    _ship_by_value()
    local = [p for p in (_local_path(u) for u in files) if p is not None]
    remote = [u for u in files if _local_path(u) is None]
    frames = []
    if local:
        # One task per file; executors open local paths themselves and stream them.
        count_local = F.udf(
            lambda i: count_rows(count_local_file(local[i], options)), COUNT_ROWS, useArrow=False
        )
        frames.append(spark.range(0, len(local), 1, len(local)).select(count_local("id")))
    if remote:
        # Remote bytes come through Hadoop (s3a://...): each file is read whole into a task.
        count_remote = F.udf(
            lambda u, b: count_rows(count_bytes(u, b, options)), COUNT_ROWS, useArrow=False
        )
        content = spark.read.format("binaryFile").load(remote)
        frames.append(content.select(count_remote("path", "content")))
    union = frames[0] if len(frames) == 1 else frames[0].unionAll(frames[1])
    rows = union.select(F.explode(union.columns[0]).alias("r")).select("r.*").collect()
    return merge_rows(tuple(r) for r in rows)


def replace_dataset(spark: Any, uri: str, header: tuple[str, ...], rows: list[Any]) -> None:
    """Replace the dataset at ``uri`` with ``rows`` in one CSV part; ``_SUCCESS`` comes last.

    The old flag goes first, then Spark's writer deletes the old data, writes the part and
    commits, writing the new flag last: a kill anywhere leaves no flag or the complete new one.
    """
    schema = ", ".join(f"{name} {'bigint' if name in INT_COLUMNS else 'string'}" for name in header)
    frame = spark.createDataFrame(rows, schema)
    remove_local_flag(uri)
    frame.coalesce(1).write.mode("overwrite").option("header", True).csv(uri)


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


# --- Classic fast path: a SparkContext counts local files, the driver writes in Python ---

APP_NAME = "aggregate_by_state"
Replace = Callable[[str, tuple[str, ...], list[Any]], None]


def list_local_files(uri: str) -> list[str]:
    """Return the absolute paths of the data files at local ``uri``, as :func:`list_files` does.

    A file, or a directory's files without ``_``/``.`` names (flags, temporary files), sorted.
    """
    path = os.path.abspath(_local_path(uri) or uri)
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise InputError(f"input {uri!r} does not exist; check --input")
    names = (n for n in sorted(os.listdir(path)) if not n.startswith(("_", ".")))
    files = [p for p in (os.path.join(path, n) for n in names) if os.path.isfile(p)]
    if not files:
        raise InputError(f"input {uri!r} holds no data files (only flags or hidden files)")
    return files


def count_local_files(sc: Any, paths: list[str], options: Options) -> FileCounts:
    """Count local files with a SparkContext, one task per file (no SQL session, no planning).

    Executors open the paths themselves and stream them; InputError names the first bad file.
    """
    _ship_by_value()
    tasks = sc.parallelize(paths, len(paths))
    return merge_rows(tasks.flatMap(lambda p: count_rows(count_local_file(p, options))).collect())


def open_spark(spark: Any, local: bool) -> tuple[Any, Any, bool]:
    """Return (session, SparkContext, owned): a context only when the fast path applies.

    The fast path needs local inputs and outputs, a classic session (``spark``, or when it is
    None this process's own: ``SparkContext.getOrCreate()`` without any SQL session) and Hadoop's
    plain local file system. Otherwise the session is ``spark`` or ``SparkSession.builder``'s.
    """
    if spark is not None:
        if local and not _is_connect(spark):
            sc = spark.sparkContext  # spark-connect: classic-only
            if plain_local_fs(sc.getConf()):
                return spark, sc, False
        return spark, None, False
    conf = classic_conf() if local else None
    if conf is not None and plain_local_fs(conf):
        from pyspark import SparkContext  # spark-connect: classic-only

        return None, SparkContext.getOrCreate(conf.setAppName(APP_NAME)), True
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName(APP_NAME).getOrCreate(), None, True


def write_outputs(replace: Replace, output: str, rejected_output: str, counts: FileCounts) -> None:
    """Replace the rejected counts, then the states: the states' flag means both are complete.

    The states' old flag goes first and its new one comes last, so a kill in between leaves no
    states flag over old or half-written rejected counts.
    """
    remove_local_flag(output)
    replace(rejected_output, REJECTED_HEADER, rejected_rows(counts))
    replace(output, STATE_HEADER, state_rows(counts))


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of this script."""
    parser = argparse.ArgumentParser(
        prog="aggregate_by_state.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--input", action="append", required=True, help="file or directory URI")
    parser.add_argument("--output", required=True, help="dataset URI for state,sightings")
    parser.add_argument("--rejected-output", required=True, help="dataset URI for reason,records")
    parser.add_argument("--encoding", default="utf-8", help="e.g. utf-8, cp1252")
    parser.add_argument("--delimiter", type=parse_delimiter, default=",", help="',' or 'tab'")
    parser.add_argument("--country-rule", choices=COUNTRY_RULES, default="us-or-blank")
    parser.add_argument("--decode-errors", choices=DECODE_ERRORS, default="strict")
    parser.add_argument(
        "--max-rejected-fraction",
        type=parse_fraction,
        default=1.0,
        help="fail, writing nothing, when more than this share of the records is rejected "
        "(default 1.0: only when all are)",
    )
    return parser


def options_of(args: argparse.Namespace) -> Options:
    """Return the reading options of parsed arguments."""
    return Options(
        args.encoding,
        args.delimiter,
        args.country_rule,
        args.decode_errors,
        args.max_rejected_fraction,
    )


def summary_line(files: list[str], counts: FileCounts) -> str:
    """Return the line a successful run prints."""
    return (
        f"aggregate_by_state: {len(files)} file(s), {counts.records} records, "
        f"{counts.counted} counted in {len(counts.states)} states, "
        f"{counts.records - counts.counted} rejected {dict(sorted(counts.rejected.items()))}"
    )


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    """Aggregate the inputs and write both outputs; return the process exit code."""
    args = build_parser().parse_args(argv)
    options = options_of(args)
    try:
        check_encoding(args.encoding)
    except InputError as exc:
        print(f"aggregate_by_state: error: {exc}", file=sys.stderr)
        return 2
    uris = [*args.input, args.output, args.rejected_output]
    spark, sc, owned = open_spark(spark, all(_local_path(u) is not None for u in uris))
    try:
        if sc is None and one_job_fits(spark, uris):
            return _main_in_one_job(spark, local_run("main", args))
        replace: Replace
        if sc is not None:
            files = [f for uri in args.input for f in list_local_files(uri)]
            counts = count_local_files(sc, files, options)
            replace = replace_local_dataset
        else:
            files = [f for uri in args.input for f in list_files(spark, uri)]
            counts = count_files(spark, files, options)
            replace = functools.partial(replace_dataset, spark)
        refused = rejected_fraction_error(
            counts, options.max_rejected_fraction, source=", ".join(args.input)
        )
        if refused:
            raise InputError(refused)
        write_outputs(replace, args.output, args.rejected_output, counts)
    except InputError as exc:
        print(f"aggregate_by_state: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if owned:
            (spark if sc is None else sc).stop()
    print(summary_line(files, counts))
    return 0


def _main_in_one_job(spark: Any, run: LocalRun) -> int:
    ((_, error, trace, summary),) = run_in_one_job(spark, [run])
    if trace:
        raise RunFailed(f"{error}\n  its traceback on the executor:\n{trace}")
    if error:
        print(error, file=sys.stderr)
        return 2
    print(summary)
    return 0


# --- Many runs as one Spark job (Spark Connect, local lake): main_batch, and main's fast path ---

#: Runs done one after the other in one Spark task of the batch job: enough that a task's
#: start-up is not the cost, few enough for parallelism and progress.
RUNS_PER_TASK = 8
#: What the job returns per run: its label, main()'s error message (or the exception line of an
#: unexpected failure, whose traceback follows), and its summary line on success.
RUN_RESULT = "struct<label:string,error:string,trace:string,summary:string>"


class RunFailed(RuntimeError):
    """A run failed on an executor with an unexpected exception (its traceback in the message)."""


@dataclass(frozen=True)
class LocalRun:
    """One run of main() on a local lake: what an executor needs to do all of it."""

    label: str
    inputs: tuple[str, ...]
    output: str
    rejected_output: str
    options: Options


def local_run(label: str, args: argparse.Namespace) -> LocalRun:
    """Return the run of parsed arguments ``args``."""
    inputs = tuple(args.input)
    return LocalRun(label, inputs, args.output, args.rejected_output, options_of(args))


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


def run_here(run: LocalRun) -> tuple[str, str, str, str]:
    """Do a whole run in this process (an executor): list, count, check, replace both outputs.

    Returns (label, error, traceback, summary) as in ``RUN_RESULT``; never raises, so one run's
    failure does not stop the others. The outputs are replaced crash-safely, rejected counts
    first and the states' flag last, so a kill leaves the run complete or without a flag.
    """
    try:
        files = [f for uri in run.inputs for f in list_local_files(uri)]
        rows = (row for path in files for row in count_rows(count_local_file(path, run.options)))
        counts = merge_rows(rows)
        source = ", ".join(run.inputs)
        refused = rejected_fraction_error(counts, run.options.max_rejected_fraction, source=source)
        if refused:
            raise InputError(refused)
        write_outputs(replace_local_dataset, run.output, run.rejected_output, counts)
    except InputError as exc:
        return run.label, f"aggregate_by_state: error: {exc}", "", ""
    except Exception as exc:
        return run.label, f"{type(exc).__name__}: {exc}", traceback.format_exc(), ""
    return run.label, "", "", summary_line(files, counts)


def run_in_one_job(spark: Any, runs: list[LocalRun]) -> list[tuple[str, str, str, str]]:
    """Do ``runs`` in one Spark job, ``RUNS_PER_TASK`` per task; return each one's result.

    One server round trip and one job for all: the executors list, count and write themselves.
    """
    from pyspark.sql import functions as F

    _ship_by_value()
    tasks = -(-len(runs) // RUNS_PER_TASK)
    do = F.udf(lambda i: run_here(runs[i]), RUN_RESULT, useArrow=False)
    frame = spark.range(0, len(runs), 1, tasks).select(do("id").alias("r")).select("r.*")
    return [tuple(row) for row in frame.collect()]


def main_batch(runs: list[tuple[str, list[str]]], spark: Any) -> dict[str, int | str]:
    """Do many runs of ``main(argv, spark)`` at once; return ``{label: 0 or error}`` of those done.

    The optional batch entry point of the script contract (SparkBackfill calls it first, then
    ``main`` for each run left out). Under Spark Connect, the runs whose inputs and outputs are
    all absolute local paths run as one Spark job (see :func:`one_job_fits`), each whole in an
    executor: one job instead of a listing and three jobs per run. Runs with other storage, or
    arguments main() must report (a usage error, an unknown encoding), and every run with a
    classic session (which has its own fast path), are left to ``main``.
    """
    if spark is None or not _is_connect(spark):
        return {}
    found: list[LocalRun] = []
    for label, argv in runs:
        with contextlib.redirect_stderr(io.StringIO()):  # main() reports usage errors itself
            try:
                args = build_parser().parse_args(argv)
                check_encoding(args.encoding)
            except (SystemExit, InputError):
                continue
        if absolute_local([*args.input, args.output, args.rejected_output]):
            found.append(local_run(label, args))
    if not found or not plain_local_fs(spark.conf):
        return {}
    done: dict[str, int | str] = {}
    for label, error, trace, summary in run_in_one_job(spark, found):
        if trace:
            print(f"{label}: {trace}", file=sys.stderr, end="")
        if error:
            print(error, file=sys.stderr)
        else:
            print(f"{label}: {summary}")
        done[label] = error or 0
    return done


if __name__ == "__main__":
    sys.exit(main())
