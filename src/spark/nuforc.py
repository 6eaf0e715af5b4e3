"""Rule R1 on the family of NUFORC exports: layouts, each record's state or reason, counts.

Plain functions on the standard library only, shipped to Spark beside ``aggregate_by_state.py``
(``spark-submit --py-files nuforc.py``) and imported by luigi-ufo's own pre-check of an export,
so a file is judged the same way before and inside a Spark job.

Rule R1 (../shared/data/ufo/README.md): parse RFC-4180 CSV (``"`` quotes, ``""`` inside a field,
fields may span lines); drop records equal to the header; ``state = upper(trim(State))``; keep the
50 states and DC; no de-duplication, no date filter. A file's first record says its layout: the
NUFORC 7-column index export, or a Kaggle ``scrubbed.csv`` layout (any header with ``state`` and
``country`` columns), where a country rule also applies to rows with a US state code:
``us-or-blank`` (default) counts country ``us`` or blank, ``us`` only ``us``, ``any`` ignores it.

Every record after a file's header is counted under its state or under one reason of
``REASONS``, so ``sum(states) + sum(rejected) == records``. Bad input raises :class:`InputError`
with the file, line or byte offset and the fix (header, encoding, quoting, truncation).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import gzip
import io
import itertools
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
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
#: Country columns tried in order when none is named (Kaggle, TidyTuesday 2019: ``country``;
#: TidyTuesday 2023: ``country_code``).
COUNTRY_COLUMNS = ("country", "country_code")
#: Country values (lower case, spaces removed) that mean the United States.
US_COUNTRIES = frozenset(("us", "usa", "u.s.", "u.s.a.", "unitedstates", "unitedstatesofamerica"))
#: Encodings tried, when a header is not recognised, to tell the user which --encoding fits.
CANDIDATE_ENCODINGS = ("utf-8", "cp1252", "utf-16")
_SAMPLE_CHARS = 200
# A lone surrogate can only come from the surrogateescape handler: it marks an undecodable byte.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class InputError(ValueError):
    """An input file is not a readable NUFORC/Kaggle export (header, encoding, emptiness)."""


# --- Layouts and records -------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the state (and country) sit in a file's records, found by column name."""

    name: str
    header: tuple[str, ...]
    state: int
    country: int | None = None

    @property
    def width(self) -> int:
        return len(self.header)

    def describe(self) -> str:
        """Return which columns are read, e.g. "state column 'state', country column 'country'"."""
        country = (
            f"country column {self.header[self.country]!r}"
            if self.country is not None
            else "no country column found: every US state code counts"
        )
        return f"{self.name} layout, state column {self.header[self.state]!r}, {country}"


def normalize_header(names: Iterable[str]) -> tuple[str, ...]:
    """Return header names lower-cased without whitespace (``"Date / Time"`` -> ``"date/time"``)."""
    return tuple("".join(name.split()).lower() for name in names)


def detect_layout(
    header: list[str], *, source: str = "<input>", state_column: str = "", country_column: str = ""
) -> Layout:
    """Return the layout of a file from its first record, or raise InputError.

    Columns are found by name, case and spaces ignored: the state column is ``state`` (or
    ``state_column``), the country column ``country`` or ``country_code`` (or ``country_column``),
    and may be absent.
    """
    names = normalize_header([header[0].lstrip("\ufeff"), *header[1:]] if header else [])
    state_name = normalize_header([state_column or "state"])[0]
    wanted = [country_column] if country_column else list(COUNTRY_COLUMNS)
    country_names = [n for n in normalize_header(wanted) if n in names]
    if state_name in names and (country_names or not country_column):
        country = names.index(country_names[0]) if country_names else None
        kaggle = country_names[:1] == ["country"] and not state_column
        name = "nuforc" if names == NUFORC_HEADER else "kaggle" if kaggle else "named-columns"
        return Layout(name, names, state=names.index(state_name), country=country)
    missing = (state_column or "state") if state_name not in names else country_column
    shown = repr(header) if len(repr(header)) <= _SAMPLE_CHARS else repr(header)[:_SAMPLE_CHARS]
    found = ", ".join(repr(n) for n in header[:50]) or "none"
    raise InputError(
        f"{source}: header {shown} is not a NUFORC export: no column {missing!r} (columns "
        f"found: {found[:_SAMPLE_CHARS]}); name the state column with --state-column NAME and "
        "the country column, if any, with --country-column NAME ([ufo] state_column, "
        "country_column), or check --delimiter, and --encoding for odd characters"
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
        country = "".join(record[layout.country].split()).lower()
        if country in US_COUNTRIES or (not country and country_rule == "us-or-blank"):
            return state
        return "foreign_country"
    if normalize_header(record) == layout.header:
        return "repeated_header"
    return "not_us_state" if state else "blank_state"


def render_record(record: list[str], delimiter: str = ",") -> str:
    """Return a record as one CSV line, cut to a readable length (for error messages)."""
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(record)
    text = out.getvalue()
    return text if len(text) <= _SAMPLE_CHARS else text[:_SAMPLE_CHARS] + "..."


# --- Counting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """How to read and count a file."""

    encoding: str = "utf-8"
    delimiter: str = ","
    country_rule: str = "us-or-blank"
    decode_errors: str = "strict"
    max_rejected_fraction: float = 1.0
    state_column: str = ""
    country_column: str = ""


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

    def add(self, other: FileCounts) -> FileCounts:
        """Add ``other``'s counts to these (samples: the first one of each reason stays)."""
        self.states.update(other.states)
        self.rejected.update(other.rejected)
        self.records += other.records
        for reason, sample in other.samples.items():
            self.samples.setdefault(reason, sample)
        return self

    def state_rows(self) -> list[tuple[str, int]]:
        """Return (state, sightings) sorted by sightings descending, then state code."""
        return sorted(self.states.items(), key=lambda kv: (-kv[1], kv[0]))

    def rejected_rows(self) -> list[tuple[str, int]]:
        """Return (reason, records) for every reason, zeros included, in REASONS order."""
        return [(reason, self.rejected.get(reason, 0)) for reason in REASONS]


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
    layout = detect_layout(
        header,
        source=source,
        state_column=options.state_column,
        country_column=options.country_column,
    )
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
    hint = suggest_encoding(_head(opener), options.encoding, options.delimiter, options)
    raise InputError(decode_error_message(source, offset, bad, options.encoding, hint))


def count_file(path: str, options: Options) -> FileCounts:
    """Count the local file ``path`` (plain or gzip); raise InputError on bad input."""
    try:
        return count_stream(lambda: open(path, "rb"), options, source=path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror}); check --input") from None


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


# --- Reading bytes: compression, encodings, field sizes ------------------------------------


def maybe_gunzip(raw: IO[bytes]) -> IO[bytes]:
    """Return a stream of the decompressed bytes if ``raw`` is gzip, else ``raw`` buffered."""
    buffered: Any = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=buffered, mode="rb"))
    return cast(IO[bytes], buffered)


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


def suggest_encoding(
    head: bytes, encoding: str, delimiter: str, options: Options = Options()
) -> str:
    """Return an encoding (of ``CANDIDATE_ENCODINGS``) under which ``head`` starts with a known
    header (``options``' columns, if named), or "".

    Only the first line is parsed, with no field limit: a wrong encoding may decode a whole
    megabyte as one field.
    """
    for candidate in CANDIDATE_ENCODINGS:
        if codecs.lookup(candidate).name == codecs.lookup(encoding).name:
            continue
        text = head.decode(check_encoding(candidate), errors="ignore").split("\n", 1)[0]
        with unlimited_fields():
            header = next(_csv_reader(io.StringIO(text, newline=""), delimiter), None)
        with contextlib.suppress(InputError):
            detect_layout(
                header or [],
                state_column=options.state_column,
                country_column=options.country_column,
            )
            return candidate
    return ""


def encoding_hint(head: bytes, options: Options) -> str:
    """Return "; it reads as an export with --encoding X" when some X fits ``head``, or ""."""
    found = suggest_encoding(head, options.encoding, options.delimiter, options)
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


# --- Command-line values -------------------------------------------------------------------


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
