"""Count NUFORC sightings per US state by rule R1, and every uncounted record by its reason.

Run by ``AggregateUFOsByState`` exactly as by hand::

    spark-submit aggregate_by_state.py --input RAW_DIR_OR_FILE --output BY_STATE_DIR \
        --rejected-output REJECTED_DIR [--encoding utf-8] [--delimiter ,] \
        [--country-rule us-or-blank] [--decode-errors strict] [--max-rejected-fraction 1.0]

or as ``main(argv, spark)`` with a classic or a Spark Connect session: the script uses only the
DataFrame API (no RDD, no SparkContext, no JVM gateway).

Rule R1 (../shared/data/ufo/README.md): parse RFC-4180 CSV (``"`` quotes, ``""`` inside a field,
fields may span lines); drop records equal to the header; ``state = upper(trim(State))``; keep the
50 states and DC; no de-duplication, no date filter. Each file's header is checked: the NUFORC
7-column index export, or a Kaggle ``scrubbed.csv`` layout (any header with ``state`` and
``country`` columns), where the country rule below also applies to rows with a US state code.

Country rules (Kaggle layout only; the NUFORC layout has no country column):
``us-or-blank`` (default): country ``us`` or blank, so a US state code with a blank country counts;
``us``: country must be ``us``; ``any``: the country is ignored.

Every record after a file's first header is either counted under its state or counted under one
reason of ``REASONS``, so ``sum(states) + sum(rejected) == records``. A run whose records are all
(or more than ``--max-rejected-fraction``) rejected fails naming the main reason and a sample
record, and writes nothing. Outputs are tiny CSV datasets (``state,sightings`` and
``reason,records``) replaced crash-safely: the old ``_SUCCESS`` goes first, Spark's writer commits
the part and writes the new ``_SUCCESS`` last, the rejected counts before the states so the
states' flag means both are complete.

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
import gzip
import io
import itertools
import os
import re
import sys
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
    """Return why ``counts`` must not be written (all, or more than ``limit``, rejected), or None.

    Such a run is a wrong export or wrong settings, not a date with no sightings: writing its
    empty counts would load an empty top-N over the date's good rows.
    """
    rejected = counts.records - counts.counted
    if counts.records == 0 or (rejected < counts.records and rejected <= limit * counts.records):
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


# --- Spark side: DataFrame API only, so one file runs under spark-submit and Spark Connect ---

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


def _local_path(uri: str) -> str | None:
    """Return the local path of ``uri``, or None if it is on another file system.

    ``file:`` URIs come from Spark's file index, percent-encoded; a path without a scheme (an
    --output argument) is taken as it is: '#', '?' and '%' in it are literal characters.
    """
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return None if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri) else uri


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


def remove_local_flag(uri: str) -> None:
    """Delete the ``_SUCCESS`` flag of a local dataset before it is replaced.

    Spark's overwrite deletes the directory first; on a local file system that delete goes file
    by file, so a kill in it could leave the flag without the data. HDFS deletes a directory in
    one operation and s3a a small partition in one bulk request; in every mode the task removed
    the flags before the run (this covers runs by hand).
    """
    path = _local_path(uri)
    if path is not None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.remove(os.path.join(path, "_SUCCESS"))


def replace_dataset(spark: Any, uri: str, header: tuple[str, ...], rows: list[Any]) -> None:
    """Replace the dataset at ``uri`` with ``rows`` in one CSV part; ``_SUCCESS`` comes last.

    The old flag goes first, then Spark's writer deletes the old data, writes the part and
    commits, writing the new flag last: a kill anywhere leaves no flag or the complete new one.
    """
    schema = ", ".join(f"{name} {'bigint' if name in INT_COLUMNS else 'string'}" for name in header)
    frame = spark.createDataFrame(rows, schema)
    remove_local_flag(uri)
    frame.coalesce(1).write.mode("overwrite").option("header", True).csv(uri)


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


def _session(spark: Any) -> tuple[Any, bool]:
    if spark is not None:
        return spark, False
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName("aggregate_by_state").getOrCreate(), True


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    """Aggregate the inputs and write both outputs; return the process exit code."""
    args = build_parser().parse_args(argv)
    options = Options(
        args.encoding,
        args.delimiter,
        args.country_rule,
        args.decode_errors,
        args.max_rejected_fraction,
    )
    try:
        check_encoding(args.encoding)
    except InputError as exc:
        print(f"aggregate_by_state: error: {exc}", file=sys.stderr)
        return 2
    spark, owned = _session(spark)
    try:
        files = [f for uri in args.input for f in list_files(spark, uri)]
        counts = count_files(spark, files, options)
        refused = rejected_fraction_error(
            counts, options.max_rejected_fraction, source=", ".join(args.input)
        )
        if refused:
            raise InputError(refused)
        # The states' flag means both outputs are complete: it goes first and comes back last.
        remove_local_flag(args.output)
        replace_dataset(spark, args.rejected_output, REJECTED_HEADER, rejected_rows(counts))
        replace_dataset(spark, args.output, STATE_HEADER, state_rows(counts))
    except InputError as exc:
        print(f"aggregate_by_state: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if owned:
            spark.stop()
    print(
        f"aggregate_by_state: {len(files)} file(s), {counts.records} records, "
        f"{counts.counted} counted in {len(counts.states)} states, "
        f"{counts.records - counts.counted} rejected {dict(sorted(counts.rejected.items()))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
