"""Read aggregate rows (key columns + a measure) into ranking records.

Sources: a dated target (CSV part files with a header, e.g. Spark's output), any Luigi target
with ``open("r")`` holding one CSV file with a header, or an iterable of dict rows computed in
Python; a list, tuple or dict of targets is read in order. A row with a missing (null or empty)
key or group value, a measure that is not a finite number, or (in CSV) a field count different
from the header's, is bad input: the read fails naming the file, line and value, unless
``skip_bad_rows`` is set, in which case such rows are counted and skipped. A CSV file lacking one
of the needed columns always fails.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from luigi_ufo.errors import BadInputError
from luigi_ufo.postgres.ranking.rules import Record

__all__ = ["ReadResult", "RecordReader", "parse_measure", "read_records"]

_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
_INT = re.compile(r"\s*[+-]?\d+\s*")
_EXAMPLES = 5


@dataclass
class ReadResult:
    """Records read, the key columns used, and how many bad rows were skipped, by reason.

    ``records`` stays empty when a fast engine (pyarrow, PostgreSQL) checked and ranked the rows.
    """

    key_columns: tuple[str, ...]
    records: list[Record]
    skipped: int = 0
    examples: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)


def parse_measure(value: Any) -> int | float | Decimal:
    """Return ``value`` as a finite number (strings parsed, ints exactly); else BadInputError."""
    if isinstance(value, str):
        if _INT.fullmatch(value):
            return int(value)
        if _NUMBER.fullmatch(value):
            value = float(value)
        else:
            raise BadInputError(f"measure {value!r} is not a number")
    if value is None:
        raise BadInputError("measure is null")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise BadInputError(f"measure {value!r} is not a number")
    if not isinstance(value, int) and not math.isfinite(value):
        raise BadInputError(f"measure {value!r} is not finite")
    return value


def _getter(indices: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    # Specialised for the usual arities: this runs once per input row.
    if not indices:
        return lambda row: ()
    if len(indices) == 1:
        (i,) = indices
        return lambda row: (row[i],)
    return lambda row: tuple(row[i] for i in indices)


# Reasons a row is skipped (keys of ReadResult.reasons).
FIELD_COUNT = "field count"
EMPTY_COLUMN = "empty key or group"
BAD_MEASURE = "bad measure"


class RecordReader:
    """Accumulates records from any number of sources under one column spec."""

    def __init__(
        self,
        rank_by: str,
        keys: tuple[str, ...] | None,
        groups: tuple[str, ...],
        exclude: Sequence[str],
        skip_bad_rows: bool,
    ) -> None:
        self.rank_by = rank_by
        self.keys = keys
        self.groups = groups
        self.exclude = {rank_by, *groups, *exclude}
        self.skip_bad_rows = skip_bad_rows
        self.result = ReadResult(key_columns=keys or (), records=[])

    def infer_keys(self, columns: Iterable[str], where: str) -> tuple[str, ...]:
        """Return the key columns, inferring them from the first header (or dict row) seen."""
        if self.keys is None:
            keys = tuple(c for c in columns if c not in self.exclude)
            if not keys:
                raise BadInputError(
                    f"{where}: no key columns left in {list(columns)!r} after removing rank_by "
                    f"{self.rank_by!r}, group_by {list(self.groups)!r} and partition columns; "
                    "set key_columns"
                )
            self.keys = self.result.key_columns = keys
        return self.keys

    def bad(self, where: str, problem: str, reason: str) -> None:
        """Raise BadInputError for a bad row, or count it under ``reason`` when skipping."""
        if not self.skip_bad_rows:
            raise BadInputError(
                f"{where}: {problem}; fix the input, or set skip_bad_rows = True to count and "
                "skip such rows"
            )
        self.result.skipped += 1
        self.result.reasons[reason] = self.result.reasons.get(reason, 0) + 1
        if len(self.result.examples) < _EXAMPLES:
            self.result.examples.append(f"{where}: {problem}")

    def read_csv(self, fh: Iterable[str], where: str) -> None:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return  # an empty part (no header, no rows) adds nothing
        keys = self.check_header(header, where)
        key_of = _getter([header.index(c) for c in keys])
        group_of = _getter([header.index(c) for c in self.groups])
        measure_at = header.index(self.rank_by)
        width = len(header)
        append = self.result.records.append
        make = Record._make
        for row in reader:
            # line_num is the line where the record ends (a quoted field may span lines).
            if len(row) != width:
                self.bad(
                    f"{where}:{reader.line_num}",
                    f"row has {len(row)} fields, the header {width} (row {row!r})",
                    FIELD_COUNT,
                )
                continue
            key = key_of(row)
            group = group_of(row)
            text = row[measure_at]
            if "" not in key and "" not in group and _INT.fullmatch(text):
                append(make((group, key, int(text), f"{where}:{reader.line_num}")))
            else:
                record = self.judge(group, key, text, f"{where}:{reader.line_num}")
                if record is not None:
                    append(record)

    def check_header(self, header: Sequence[str], where: str) -> tuple[str, ...]:
        """Return the key columns, or raise if ``header`` lacks a needed column."""
        keys = self.infer_keys(header, where)
        missing = [c for c in (*self.groups, *keys, self.rank_by) if c not in header]
        if missing:
            raise BadInputError(
                f"{where}: header {list(header)!r} lacks column(s) {missing!r}; "
                "fix rank_by/key_columns/group_by or the file"
            )
        return keys

    def judge(
        self, group: tuple[str, ...], key: tuple[str, ...], text: str, where: str
    ) -> Record | None:
        """Return the CSV row's record, or None after counting it as bad (raise if not skipping).

        A row is bad when a group or key value is empty or the measure is not a finite number.
        """
        keys = self.keys or ()
        for column, value in zip((*self.groups, *keys), (*group, *key), strict=True):
            if value == "":
                self.bad(where, f"column {column!r} is empty (value '')", EMPTY_COLUMN)
                return None
        try:
            measure = parse_measure(text)
        except BadInputError as exc:
            self.bad(where, f"column {self.rank_by!r}: {exc}", BAD_MEASURE)
            return None
        return Record(group, key, measure, where)

    def read_dict(self, row: Mapping[str, Any], where: str) -> None:
        keys = self.infer_keys(row, where)
        for column in (*self.groups, *keys):
            value = row.get(column)
            if value is None or value == "":
                self.bad(
                    where, f"column {column!r} is missing or empty (value {value!r})", EMPTY_COLUMN
                )
                return
        try:
            measure = parse_measure(row.get(self.rank_by))
        except BadInputError as exc:
            self.bad(where, f"column {self.rank_by!r}: {exc}", BAD_MEASURE)
            return
        self.result.records.append(
            Record(
                group=tuple(row[c] for c in self.groups),
                key=tuple(row[c] for c in keys),
                measure=measure,
                where=where,
            )
        )

    def finish(self, source: Any) -> ReadResult:
        """Return the result; raise if no header or row told the key columns."""
        if self.keys is None:
            raise BadInputError(
                f"input {source!r} has no rows, so key columns cannot be inferred; set key_columns"
            )
        return self.result

    def read(self, source: Any) -> None:
        """Read a target, a dated target, a list/dict of targets, or an iterable of dict rows."""
        if hasattr(source, "iter_parts") and hasattr(source, "open_part"):
            base = getattr(source, "uri", repr(source))
            for name in source.iter_parts():
                with source.open_part(name, newline="") as fh:
                    self.read_csv(fh, f"{base}{name}")
            return
        if _is_target(source):
            with source.open("r") as fh:
                self.read_csv(fh, str(getattr(source, "path", source)))
            return
        if isinstance(source, Mapping):
            # Luigi hands a dict of targets to a task whose requires() returns a dict.
            if source and all(_is_target(v) for v in source.values()):
                for value in source.values():
                    self.read(value)
                return
            raise BadInputError(
                f"input is a single mapping ({sorted(source)!r}), not rows; "
                "give a list of dict rows or a target"
            )
        if isinstance(source, str | bytes):
            raise BadInputError(
                f"input {source!r} is a string, not rows; give a target or dict rows"
            )
        for index, item in enumerate(source, start=1):
            if isinstance(item, Mapping):
                self.read_dict(item, f"row {index}")
            elif _is_target(item):
                self.read(item)
            else:
                raise BadInputError(
                    f"input row {index} is {item!r}, not a dict; give dict rows or targets"
                )


def _is_target(value: Any) -> bool:
    return hasattr(value, "iter_parts") or (hasattr(value, "open") and hasattr(value, "exists"))


def read_records(
    source: Any,
    *,
    rank_by: str,
    key_columns: Sequence[str] | None = None,
    group_by: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip_bad_rows: bool = False,
) -> ReadResult:
    """Read ``source`` into records; key columns default to the remaining columns in order.

    The default key is every column of the CSV header (or of the first dict row) except
    ``rank_by``, ``group_by`` and ``exclude`` (the rank and partition column names).
    """
    reader = RecordReader(
        rank_by,
        tuple(key_columns) if key_columns is not None else None,
        tuple(group_by),
        exclude,
        skip_bad_rows,
    )
    reader.read(source)
    return reader.finish(source)
