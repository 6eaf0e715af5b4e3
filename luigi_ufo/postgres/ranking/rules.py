"""Pure top-N ranking: keep the N best rows by a measure, optionally per group.

Tie rules (``ties``):

``"stable"`` (default)
    Order by measure descending, then by key ascending; ranks are 1, 2, 3, ... with no gaps and
    no repeats, and exactly ``min(N, rows in the group)`` rows are kept.
``"with_ties"``
    Keep every row tied with the N-th row. Ranks are *competition* ranks (SQL ``RANK()``:
    1, 2, 2, 4): a row's rank is one plus the number of rows with a strictly greater measure, and
    a row is kept when its rank is <= N. More than N rows may be kept.
``"dense"``
    Keep the rows holding the N greatest distinct measures. Ranks are *dense* ranks (SQL
    ``DENSE_RANK()``: 1, 2, 2, 3), a row is kept when its rank is <= N.

In every rule, rows of equal rank are listed by key ascending. Keys are compared with Python's
ordering (code points for strings), never a database collation. A key must identify one row
within its group: a repeated key is bad input. A null, non-numeric, NaN or infinite measure is bad
input too: it is rejected, never ranked first or last by accident. N must be a positive integer;
N larger than the number of rows keeps them all.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from decimal import Decimal
from operator import itemgetter
from typing import Any, Literal, NamedTuple, get_args

from luigi_ufo.errors import BadInputError, InvalidSpecError

__all__ = [
    "TIES",
    "Measure",
    "Ranked",
    "Record",
    "Ties",
    "check_n",
    "check_ties",
    "duplicate_key_error",
    "top_n",
]

Ties = Literal["stable", "with_ties", "dense"]
TIES: tuple[str, ...] = get_args(Ties)
Measure = int | float | Decimal


class Record(NamedTuple):
    """One input row: its group values, key values, measure and where it came from."""

    group: tuple[Any, ...]
    key: tuple[Any, ...]
    measure: Any
    where: str = ""


class Ranked(NamedTuple):
    """One kept row with its rank inside its group (1 is best)."""

    group: tuple[Any, ...]
    key: tuple[Any, ...]
    measure: Measure
    rank: int


def check_n(n: object) -> int:
    """Return ``n`` if it is a positive int, else raise InvalidSpecError."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise InvalidSpecError(f"top-N needs a positive integer n, got {n!r}; set n = 10 or so")
    return n


def check_ties(ties: object) -> Ties:
    """Return ``ties`` if it names a tie rule, else raise InvalidSpecError."""
    if ties not in TIES:
        raise InvalidSpecError(f"unknown tie rule {ties!r}; use one of {TIES!r}")
    return ties  # type: ignore[return-value]  # checked against the Literal's values above


def _where(record: Record) -> str:
    return f" at {record.where}" if record.where else ""


def check_measure(record: Record) -> Measure:
    """Return the record's measure if it is a finite number, else raise BadInputError."""
    value = record.measure
    if value is None:
        raise BadInputError(
            f"measure is null{_where(record)} (key {record.key!r}); nulls are not ranked: "
            "fill or drop them upstream"
        )
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise BadInputError(
            f"measure {value!r}{_where(record)} (key {record.key!r}) is not a number; "
            "fix the input or the rank_by column"
        )
    if not isinstance(value, int) and not math.isfinite(value):
        raise BadInputError(
            f"measure {value!r}{_where(record)} (key {record.key!r}) is not finite; "
            "NaN and infinity cannot be ranked, drop them upstream"
        )
    return value


def _sort_key(record: Record) -> tuple[Any, tuple[Any, ...]]:
    return (-record.measure, record.key)


def top_n(records: Iterable[Record], n: int, ties: Ties = "stable") -> list[Ranked]:
    """Rank records per group and keep the top ``n`` by the tie rule ``ties``.

    The result is ordered by group ascending, then rank, then key.
    """
    n = check_n(n)
    ties = check_ties(ties)
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for record in records:
        if type(record.measure) is not int:  # ints (counts) are the common, always-valid case
            check_measure(record)
        bucket = groups.get(record.group)
        if bucket is None:
            bucket = groups[record.group] = []
        bucket.append(record)
    for bucket in groups.values():
        if len({r.key for r in bucket}) != len(bucket):
            _raise_duplicate(bucket)
    try:
        ordered_groups = sorted(groups)
    except TypeError as exc:
        raise BadInputError(
            f"group values cannot be ordered ({exc}); give every group column one type"
        ) from exc
    out: list[Ranked] = []
    for group in ordered_groups:
        try:
            rows = _best_sorted(groups[group], n, ties)
        except TypeError as exc:
            raise BadInputError(
                f"key values in group {group!r} cannot be ordered ({exc}); "
                "give every key column one type"
            ) from exc
        out.extend(_rank_sorted(rows, n, ties))
    return out


def duplicate_key_error(record: Record) -> BadInputError:
    """Return the error for ``record``, the second row of its key in its group."""
    return BadInputError(
        f"key {record.key!r} appears twice in group {record.group!r}{_where(record)}; "
        "key_columns must identify one row per group: aggregate upstream or add a column"
    )


def _raise_duplicate(bucket: list[Record]) -> None:
    seen: set[tuple[Any, ...]] = set()
    for record in bucket:
        if record.key in seen:
            raise duplicate_key_error(record)
        seen.add(record.key)


_KEY = itemgetter(1)
_MEASURE = itemgetter(2)


def _best_sorted(rows: list[Record], n: int, ties: Ties) -> list[Record]:
    """Return the rows that can make the cut, best first (all rows when N is not small)."""
    if ties == "dense" or n * 4 >= len(rows):
        # Two stable sorts (key asc, then measure desc) beat one sort on a built tuple key.
        ordered = sorted(rows, key=_KEY)
        ordered.sort(key=_MEASURE, reverse=True)
        return ordered
    # A small N of many rows: a heap finds the best N without sorting everything.
    head = heapq.nsmallest(n, rows, key=_sort_key)
    if ties == "stable":
        return head
    cutoff = head[-1].measure  # rows tied with the N-th row share its rank, so they stay
    return sorted((r for r in rows if r.measure >= cutoff), key=_sort_key)


def _rank_sorted(rows: list[Record], n: int, ties: Ties) -> list[Ranked]:
    if ties == "stable":
        make = Ranked._make
        return [make((r.group, r.key, r.measure, i)) for i, r in enumerate(rows[:n], start=1)]
    kept: list[Ranked] = []
    rank = 0
    previous: Any = None
    for position, r in enumerate(rows, start=1):
        if not kept or r.measure != previous:
            rank = position if ties == "with_ties" else rank + 1
            previous = r.measure
        if rank > n:
            break
        kept.append(Ranked(r.group, r.key, r.measure, rank))
    return kept
