"""Count NUFORC sightings per US state by rule R1, and every uncounted record by its reason.

Run by ``AggregateUFOsByState`` exactly as by hand::

    spark-submit aggregate_by_state.py --input RAW_DIR_OR_FILE --output BY_STATE_DIR \
        --rejected-output REJECTED_DIR [--encoding utf-8] [--delimiter ,] \
        [--country-rule us-or-blank] [--decode-errors strict]

Rule R1 (../shared/data/ufo/README.md): parse RFC-4180 CSV (``"`` quotes, ``""`` inside a field,
fields may span lines); drop records equal to the header; ``state = upper(trim(State))``; keep the
50 states and DC; no de-duplication, no date filter. Each file's header is checked: the NUFORC
7-column index export, or a Kaggle ``scrubbed.csv`` layout (any header with ``state`` and
``country`` columns), where the country rule below also applies to rows with a US state code.

Country rules (Kaggle layout only; the NUFORC layout has no country column):
``us-or-blank`` (default): country ``us`` or blank, so a US state code with a blank country counts;
``us``: country must be ``us``; ``any``: the country is ignored.

Every record after a file's first header is either counted under its state or counted under one
reason of ``REASONS``, so ``sum(states) + sum(rejected) == records``. Outputs are tiny CSV datasets
(``state,sightings`` and ``reason,records``), written part file first and ``_SUCCESS`` last, the
rejected counts before the states so the states' flag means both are complete.

Why not ``spark.read.csv(multiLine=True)``: a multi-line CSV file is one unsplittable partition
either way, and Spark's parser took 5.8 s of job time on the 16 MB primary file where Python's C
``csv`` module takes 0.2 s; Spark also cannot fail on, or count, undecodable bytes. So Spark
distributes files (one task per file) and Python parses each file as a stream.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import io
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, cast

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


@dataclass
class FileCounts:
    """Counts of one or more files: states counted, records rejected by reason, records seen."""

    states: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    records: int = 0

    def add(self, other: FileCounts) -> None:
        self.states.update(other.states)
        self.rejected.update(other.rejected)
        self.records += other.records

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
    records: Iterable[list[str]], options: Options = Options(), *, source: str = "<input>"
) -> FileCounts:
    """Count a file's records (its header first) by rule R1."""
    it = iter(records)
    try:
        header = next(it)
    except StopIteration:
        raise InputError(f"{source}: file is empty; expected a NUFORC header line") from None
    layout = detect_layout(header, source=source)
    counts = FileCounts()
    tally: Counter[str] = Counter()
    check_bytes = options.decode_errors == "replace"
    for record in it:
        if check_bytes and any(_UNDECODABLE.search(f) for f in record):
            tally["undecodable_bytes"] += 1
        else:
            tally[classify_record(record, layout, options.country_rule)] += 1
    for key, n in tally.items():
        (counts.rejected if key in REASONS else counts.states)[key] = n
    counts.records = sum(tally.values())
    return counts


def parse_delimiter(text: str) -> str:
    """Return the one-character delimiter for ``text`` (``\\t``, ``tab`` and ``comma`` spelled)."""
    named = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1 or value in {'"', "\r", "\n"}:
        raise argparse.ArgumentTypeError(f"delimiter {text!r} must be one character (or 'tab')")
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
        if not chunk:
            return None
        consumed += len(chunk)


def _csv_reader(text: IO[str], delimiter: str) -> Any:
    return csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)


def count_stream(
    opener: Callable[[], IO[bytes]], options: Options = Options(), *, source: str = "<input>"
) -> FileCounts:
    """Count one file (plain or gzip) read from ``opener()``; raise InputError on bad input."""
    errors = "surrogateescape" if options.decode_errors == "replace" else "strict"
    with (
        opener() as raw,
        io.TextIOWrapper(
            maybe_gunzip(raw), encoding=options.encoding, errors=errors, newline=""
        ) as text,
    ):
        reader = _csv_reader(text, options.delimiter)
        try:
            return count_records(reader, options, source=source)
        except UnicodeDecodeError:
            pass
        except csv.Error as exc:
            raise InputError(
                f"{source}: unreadable CSV near line {reader.line_num} ({exc}); an unbalanced "
                "quote swallows the rest of the file: fix that record, or check --delimiter"
            ) from None
        except EOFError:
            raise InputError(
                f"{source}: the gzip stream ends early; the file is truncated"
            ) from None
    with opener() as raw:
        found = find_decode_error(maybe_gunzip(raw), options.encoding)
    offset, bad = found if found else (-1, b"")
    hint = "--encoding cp1252" if options.encoding.lower() != "cp1252" else "another --encoding"
    raise InputError(
        f"{source}: bytes {bad!r} at byte offset {offset} (of the decompressed data) are not "
        f"valid {options.encoding!r}; try {hint}, or --decode-errors replace to count such "
        f"records as 'undecodable_bytes'"
    )


def count_local_file(path: str, options: Options) -> FileCounts | str:
    """Count a local file; return the error message instead of raising (it crosses a process)."""
    try:
        return count_stream(lambda: open(path, "rb"), options, source=path)
    except (InputError, OSError, LookupError) as exc:
        return str(exc)


def count_bytes(uri: str, data: bytes, options: Options) -> FileCounts | str:
    """Count a file whose bytes Spark read (remote file systems); return errors as text."""
    try:
        return count_stream(lambda: io.BytesIO(data), options, source=uri)
    except (InputError, LookupError) as exc:
        return str(exc)


def render_csv(header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> bytes:
    """Return a small CSV document (header first) as UTF-8 bytes."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def state_rows(counts: FileCounts) -> list[tuple[str, int]]:
    """Return (state, sightings) sorted by sightings descending, then state code."""
    return sorted(counts.states.items(), key=lambda kv: (-kv[1], kv[0]))


def rejected_rows(counts: FileCounts) -> list[tuple[str, int]]:
    """Return (reason, records) for every reason, zeros included, in REASONS order."""
    return [(reason, counts.rejected.get(reason, 0)) for reason in REASONS]


# --- Spark side: file listing and tiny writes through Hadoop's FileSystem (file:, s3a:, hdfs:) ---


class _HadoopFS:
    """Hadoop FileSystem access from the driver, so s3a:// and local paths work the same."""

    def __init__(self, spark: Any) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, uri: str) -> tuple[Any, Any]:
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self._conf), path

    def list_files(self, uri: str) -> list[tuple[str, str]]:
        """Return (uri, scheme) of the data files at ``uri`` (a file, or a directory's files)."""
        fs, path = self._fs(uri)
        if not fs.exists(path):
            raise InputError(f"input {uri!r} does not exist; check --input")
        statuses = (
            fs.listStatus(path)
            if fs.getFileStatus(path).isDirectory()
            else [fs.getFileStatus(path)]
        )
        files = []
        for status in statuses:
            name = status.getPath().getName()
            if status.isFile() and not name.startswith(("_", ".")):
                files.append((status.getPath().toString(), fs.getScheme()))
        if not files:
            raise InputError(f"input {uri!r} holds no data files (only flags or hidden files)")
        return sorted(files)

    def write_dataset(self, uri: str, data: bytes) -> None:
        """Replace the dataset at ``uri`` with one part file, then write its ``_SUCCESS`` flag."""
        fs, path = self._fs(uri)
        fs.setWriteChecksum(False)  # no .part-00000.csv.crc beside a 400-byte file
        if fs.exists(path):
            fs.delete(path, True)
        fs.mkdirs(path)
        path_cls = self._jvm.org.apache.hadoop.fs.Path
        for name, payload in (("part-00000.csv", data), ("_SUCCESS", b"")):
            stream = fs.create(path_cls(path, name), True)
            try:
                if payload:
                    stream.write(bytearray(payload))
            finally:
                stream.close()


def _local_path(uri: str) -> str:
    # Hadoop's Path.toString() is not a URI: '#', '?' and '%' in it are literal characters, so
    # urlparse would cut '/lake#1/x.csv' at the '#' and executors would open '/lake'.
    for prefix in ("file://", "file:"):
        if uri.startswith(prefix) and uri[len(prefix) :].startswith("/"):
            return uri[len(prefix) :]
    return uri


def _ship_by_value() -> None:
    # Imported as luigi_ufo.scripts.* (tests, the CLI), functions would pickle by reference and
    # executors would need luigi_ufo installed; by value they need only pyspark, like spark-submit.
    if __name__ != "__main__":
        from pyspark import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]


def count_files(spark: Any, files: list[tuple[str, str]], options: Options) -> FileCounts:
    """Count every file in a Spark task of its own; raise InputError for the first bad file."""
    sc = spark.sparkContext
    _ship_by_value()
    local = [_local_path(u) for u, scheme in files if scheme == "file"]
    remote = [u for u, scheme in files if scheme != "file"]
    results: list[FileCounts | str] = []
    if local:
        # Executors open local paths themselves and stream them: no file is held in memory whole.
        rdd = sc.parallelize(local, len(local))
        results += rdd.map(lambda p: count_local_file(p, options)).collect()
    if remote:
        # Remote bytes come through Hadoop (s3a://...): each file is read whole into a task.
        rdd = sc.binaryFiles(",".join(remote), minPartitions=len(remote))
        results += rdd.map(lambda kv: count_bytes(kv[0], kv[1], options)).collect()
    total = FileCounts()
    for result in results:
        if isinstance(result, str):
            raise InputError(result)
        total.add(result)
    return total


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
    return parser


def _session(spark: Any) -> tuple[Any, bool]:
    if spark is not None:
        return spark, False
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName("aggregate_by_state").getOrCreate(), True


def main(argv: list[str] | None = None, spark: Any = None) -> int:
    """Aggregate the inputs and write both outputs; return the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        codecs.lookup(args.encoding)
    except LookupError:
        print(f"aggregate_by_state: error: unknown --encoding {args.encoding!r}", file=sys.stderr)
        return 2
    options = Options(args.encoding, args.delimiter, args.country_rule, args.decode_errors)
    spark, owned = _session(spark)
    try:
        fs = _HadoopFS(spark)
        files = [f for uri in args.input for f in fs.list_files(uri)]
        counts = count_files(spark, files, options)
        fs.write_dataset(args.rejected_output, render_csv(REJECTED_HEADER, rejected_rows(counts)))
        fs.write_dataset(args.output, render_csv(STATE_HEADER, state_rows(counts)))
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
