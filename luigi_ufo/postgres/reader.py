"""Read aggregate rows (key columns + a measure) into ranking records.

Sources: a dated target (CSV part files with a header, e.g. Spark's output), any Luigi target
with ``open("r")`` holding one CSV file with a header, or an iterable of dict rows computed in
Python; a list or tuple of targets is read in order. A row with a missing (null or empty) key or
group value, or a measure that is not a finite number, is bad input: the read fails naming the
file, line and value, unless ``skip_bad_rows`` is set, in which case such rows are counted and
skipped. A CSV file lacking one of the needed columns always fails.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from luigi_ufo.errors import BadInputError
from luigi_ufo.postgres.topn import Record

__all__ = ["ReadResult", "iter_source_rows", "parse_measure", "read_records"]

_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
_INT = re.compile(r"\s*[+-]?\d+\s*")
_EXAMPLES = 5


@dataclass
class ReadResult:
    """Records read, the key columns used, and how many bad rows were skipped."""

    key_columns: tuple[str, ...]
    records: list[Record]
    skipped: int = 0
    examples: list[str] = field(default_factory=list)


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


def _is_missing(value: Any) -> bool:
    return value is None or value == ""


def _header_check(
    fh: Any, where: str, needed: Sequence[str]
) -> Iterator[tuple[Mapping[str, Any], str]]:
    reader = csv.DictReader(fh)
    header = reader.fieldnames or []
    missing = [c for c in needed if c not in header]
    if missing:
        raise BadInputError(
            f"{where}: header {header!r} lacks column(s) {missing!r}; "
            "fix rank_by/key_columns/group_by or the file"
        )
    for row in reader:
        # line_num is the line where the record ends (a quoted field may span lines).
        yield row, f"{where}:{reader.line_num}"


def _is_target(value: Any) -> bool:
    return hasattr(value, "iter_parts") or (hasattr(value, "open") and hasattr(value, "exists"))


def iter_source_rows(
    source: Any, needed: Sequence[str] = ()
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Yield (row, where) pairs from a target, a list or dict of targets, or dict rows."""
    if hasattr(source, "iter_parts") and hasattr(source, "open_part"):
        base = getattr(source, "uri", repr(source))
        for name in source.iter_parts():
            with source.open_part(name, newline="") as fh:
                yield from _header_check(fh, f"{base}{name}", needed)
        return
    if hasattr(source, "open") and hasattr(source, "exists"):
        where = str(getattr(source, "path", source))
        with source.open("r") as fh:
            yield from _header_check(fh, where, needed)
        return
    if isinstance(source, Mapping):
        # Luigi hands a dict of targets to a task whose requires() returns a dict.
        if source and all(_is_target(v) for v in source.values()):
            for value in source.values():
                yield from iter_source_rows(value, needed)
            return
        raise BadInputError(
            f"input is a single mapping ({sorted(source)!r}), not rows; "
            "give a list of dict rows or a target"
        )
    if isinstance(source, str | bytes):
        raise BadInputError(f"input {source!r} is a string, not rows; give a target or dict rows")
    for index, item in enumerate(source, start=1):
        if isinstance(item, Mapping):
            yield item, f"row {index}"
        elif _is_target(item):
            yield from iter_source_rows(item, needed)
        else:
            raise BadInputError(
                f"input row {index} is {item!r}, not a dict; give dict rows or targets"
            )


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

    The default key is every column of the first row except ``rank_by``, ``group_by`` and
    ``exclude`` (the rank and partition column names).
    """
    keys: tuple[str, ...] | None = tuple(key_columns) if key_columns is not None else None
    groups = tuple(group_by)
    needed = (*groups, *(keys or ()), rank_by)
    result = ReadResult(key_columns=keys or (), records=[])
    for row, where in iter_source_rows(source, needed):
        if keys is None:
            skip = {rank_by, *groups, *exclude}
            keys = tuple(c for c in row if c not in skip)
            if not keys:
                raise BadInputError(
                    f"{where}: no key columns left in {list(row)!r} after removing rank_by "
                    f"{rank_by!r} and group_by {list(groups)!r}; set key_columns"
                )
            result.key_columns = keys
        try:
            record = _record(row, where, keys, groups, rank_by)
        except BadInputError as exc:
            if not skip_bad_rows:
                raise BadInputError(
                    f"{where}: {exc}; fix the input, or set skip_bad_rows = True to count and "
                    "skip such rows"
                ) from None
            result.skipped += 1
            if len(result.examples) < _EXAMPLES:
                result.examples.append(f"{where}: {exc}")
            continue
        result.records.append(record)
    if keys is None:
        raise BadInputError(
            f"input {source!r} has no rows, so key columns cannot be inferred; set key_columns"
        )
    return result


def _record(
    row: Mapping[str, Any],
    where: str,
    keys: tuple[str, ...],
    groups: tuple[str, ...],
    rank_by: str,
) -> Record:
    for column in (*groups, *keys):
        value = row.get(column)
        if _is_missing(value):
            raise BadInputError(f"column {column!r} is missing or empty (value {value!r})")
    try:
        measure = parse_measure(row.get(rank_by))
    except BadInputError as exc:
        raise BadInputError(f"column {rank_by!r}: {exc}") from None
    return Record(
        group=tuple(row[c] for c in groups),
        key=tuple(row[c] for c in keys),
        measure=measure,
        where=where,
    )
