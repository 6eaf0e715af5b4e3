"""Check and rank CSV input inside PostgreSQL, in the load's transaction: no Python per good row.

Each CSV part's bytes go unchanged into ``COPY`` of a temporary table (text columns plus the
record number). SQL then picks the rows a Python read could call bad and hands only those to
:class:`~luigi_ufo.postgres.ranking.reader.RecordReader` for the verdict, the count and the message;
checks that keys are unique per group; and inserts the top N ranked by ``row_number()``,
``rank()`` or ``dense_rank()`` into the table. The rows, ranks, errors and counts are those of
``read_records`` + ``top_n`` + ``load``, because this path runs only where PostgreSQL's CSV
parsing and ordering provably agree with Python's:

- the part holds no double quote and no ``\\.`` (quoting corner cases differ, and PostgreSQL
  ends CSV data at a ``\\.`` line), so a record is one line and an empty field is NULL;
- every record has the header's field count, the bytes are UTF-8 with one newline style
  (otherwise ``COPY`` refuses the part);
- every measure that counts is an ASCII integer (compared exactly as ``numeric``); keys are
  compared bytewise (``COLLATE "C"``, which in UTF-8 is Python's code point order);
- server and client encodings are UTF8, and every column's type is a base type.

Anything else raises :class:`Declined` inside the transaction, which rolls back; the caller
then reads and ranks in Python, exactly as before.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

import luigi_ufo.postgres.sql as q
from luigi_ufo.errors import InvalidSpecError
from luigi_ufo.postgres.load import LoadResult, LoadSpec, copy_text, load_with
from luigi_ufo.postgres.ranking.parts import (
    CHUNK,
    CsvPart,
    Declined,
    SpecFor,
    check_header,
    read_header,
)
from luigi_ufo.postgres.ranking.reader import ReadResult, RecordReader
from luigi_ufo.postgres.ranking.rules import Record, Ties, duplicate_key_error
from luigi_ufo.postgres.settings import ConnectionSettings

__all__ = ["rank_in_database"]

# What Python's int() takes, restricted to ASCII; any other measure is judged in Python.
_ASCII_INT = r"^[ \t\n\r\f\v]*[+-]?[0-9]+[ \t\n\r\f\v]*$"
_STAGE = sql.Identifier("luigi_ufo_stage")
_BAD_FETCH = 10_000
_RANK_FUNCTION = {"stable": "row_number", "with_ties": "rank", "dense": "dense_rank"}
_RAISE_WORK_MEM = (
    "SELECT set_config('work_mem', '64MB', true) "
    "WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('64MB')"
)


class _PartStream:
    """The bytes after a part's header, for ``copy_expert``; stops at what COPY reads otherwise."""

    def __init__(self, stream: IO[bytes], head: bytes, where: str) -> None:
        self._stream = stream
        self._pending = head
        self._last = b""
        self.where = where
        self.problem: str | None = None

    def read(self, size: int = -1) -> bytes:
        chunk = self._pending or self._stream.read(CHUNK)
        self._pending = b""
        if b'"' in chunk:
            self.problem = f"{self.where} has quoted fields"
        elif b"\\." in self._last + chunk[:1] or b"\\." in chunk:
            self.problem = f"{self.where} holds '\\.', which ends COPY's CSV data"
        if self.problem:
            raise Declined(self.problem)  # psycopg2 aborts the COPY; the caller reads problem
        self._last = chunk[-1:]
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


@dataclass(frozen=True)
class _Columns:
    """The staging table's column names for group, key and measure values."""

    groups: tuple[str, ...]
    keys: tuple[str, ...]
    measure: str = "m"

    @property
    def values(self) -> tuple[str, ...]:
        return (*self.groups, *self.keys, self.measure)

    def ids(self, names: Sequence[str]) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(n) for n in names)

    def bad_row(self) -> sql.Composed:
        """Return the condition of a row that Python must judge (it may be bad)."""
        nulls = [sql.SQL("{} IS NULL").format(sql.Identifier(n)) for n in self.values]
        m = sql.Identifier(self.measure)
        # Plain digits pass without the (slower) regular expression.
        not_int = sql.SQL(
            "NOT ((ltrim({m}, '0123456789') = '' AND {m} <> '') OR {m} ~ {pattern})"
        ).format(m=m, pattern=sql.Literal(_ASCII_INT))
        return sql.SQL("({})").format(sql.SQL(" OR ").join([*nulls, not_int]))


@dataclass
class _Staged:
    """What was copied: record-number ranges per part (``where`` in messages), junk columns."""

    ends: list[int] = field(default_factory=list)
    wheres: list[str] = field(default_factory=list)
    junk: int = 0  # columns x0, x1, ... hold the parts' columns that no load column reads

    def where(self, ln: int) -> str:
        i = bisect.bisect_left(self.ends, ln)
        start = self.ends[i - 1] if i else 0
        return f"{self.wheres[i]}:{ln - start + 1}"  # line 1 is the header


def rank_in_database(
    parts: Sequence[CsvPart],
    *,
    reader: RecordReader,
    n: int,
    ties: Ties,
    spec_for: SpecFor,
    settings: ConnectionSettings,
) -> tuple[ReadResult, LoadResult]:
    """Load the top ``n`` of ``parts`` by ranking in SQL; raise Declined where it cannot."""
    for index, part in enumerate(parts):
        with part.open() as stream:
            header, rest = read_header(stream, part.where)
            if header is None:
                continue
            # The first header tells the key columns (and so the table); the other parts are
            # opened one at a time while copying.
            spec = spec_for(check_header(reader, header, part.where))
            write = functools.partial(
                _write,
                first=(part, stream, header, rest),
                later=parts[index + 1 :],
                reader=reader,
                spec=spec,
                n=n,
                ties=ties,
            )
            return reader.result, load_with(spec, write, settings=settings)
    raise Declined("no part has a header")


def _write(
    cur: psycopg2.extensions.cursor,
    into: q.TableName,
    *,
    first: tuple[CsvPart, IO[bytes], list[str], bytes],
    later: Sequence[CsvPart],
    reader: RecordReader,
    spec: LoadSpec,
    n: int,
    ties: Ties,
) -> int:
    _check_encoding(cur)
    types = _value_types(cur, spec)
    columns = _Columns(
        groups=tuple(f"g{i}" for i in range(len(spec.table.group))),
        keys=tuple(f"k{i}" for i in range(len(spec.table.key))),
    )
    cur.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {} (ln bigint GENERATED ALWAYS AS IDENTITY, {}) ON COMMIT DROP"
        ).format(
            _STAGE,
            sql.SQL(", ").join(
                sql.SQL("{} text").format(sql.Identifier(c)) for c in columns.values
            ),
        )
    )
    staged = _Staged()
    names = (*spec.table.group, *spec.table.key, spec.table.measure)
    wanted = dict(zip((c.name for c in names), columns.values, strict=True))
    _copy_part(cur, *first, wanted, staged)
    for part in later:
        with part.open() as stream:
            header, rest = read_header(stream, part.where)
            if header is not None:
                check_header(reader, header, part.where)
                _copy_part(cur, part, stream, header, rest, wanted, staged)
    # Sorting and hashing a million keys in 4MB (the default) spills to disk; allow more.
    cur.execute(_RAISE_WORK_MEM)
    cur.execute(
        sql.SQL("SELECT count(*) FILTER (WHERE {}), coalesce(max(length({})), 0) FROM {}").format(
            columns.bad_row(), sql.Identifier(columns.measure), _STAGE
        )
    )
    summary = cur.fetchone()
    suspects, longest = (int(summary[0]), int(summary[1])) if summary else (0, 0)
    good: sql.Composable = sql.SQL("true")
    if suspects:
        _judge_bad_rows(cur, columns, staged, reader)
        good = sql.SQL("NOT {}").format(columns.bad_row())
    _check_unique_keys(cur, columns, staged, good)
    # 18 characters hold no integer outside bigint; longer ones are compared as numeric.
    measure_type = "bigint" if longest <= 18 else "numeric"
    cur.execute(_insert_ranked(spec, into, columns, types, n, ties, good, measure_type))
    return int(cur.rowcount)


def _check_encoding(cur: psycopg2.extensions.cursor) -> None:
    cur.execute("SHOW server_encoding")
    row = cur.fetchone()
    server = str(row[0]) if row else "?"
    client = str(cur.connection.encoding)
    if server != "UTF8" or client != "UTF8":
        raise Declined(f"server encoding {server} / client encoding {client}, not UTF8")


def _value_types(cur: psycopg2.extensions.cursor, spec: LoadSpec) -> dict[str, str | None]:
    """Return each column's SQL type to cast text to, or None for a string type (assigned)."""
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory, t.typtype "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (spec.table.table.quoted,),
    )
    types: dict[str, str | None] = {}
    for name, type_name, category, kind in cur.fetchall():
        if kind != "b" or category == "V":
            raise Declined(f"column {name!r} has type {type_name}, not a plain base type")
        try:
            q.check_type(type_name, name)
        except InvalidSpecError:
            raise Declined(f"column {name!r} has type {type_name}") from None
        # A string type takes text by assignment, which (unlike an explicit cast to
        # varchar(n)) refuses an over-long value exactly as COPY's input does.
        types[name] = None if category == "S" else type_name
    return types


def _copy_part(
    cur: psycopg2.extensions.cursor,
    part: CsvPart,
    stream: IO[bytes],
    header: list[str],
    rest: bytes,
    wanted: dict[str, str],
    staged: _Staged,
) -> None:
    """COPY one part's records into the staging table."""
    # A needed column is its first occurrence in the header, as in the Python read.
    targets: list[str] = []
    extra = 0
    for position, name in enumerate(header):
        if name in wanted and header.index(name) == position:
            targets.append(wanted[name])
        else:
            targets.append(f"x{extra}")
            extra += 1
    for index in range(staged.junk, extra):
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} text").format(_STAGE, sql.Identifier(f"x{index}"))
        )
    data = _PartStream(stream, rest, part.where)
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        _STAGE, sql.SQL(", ").join(sql.Identifier(t) for t in targets)
    )
    try:
        cur.copy_expert(statement, data, size=CHUNK)
    except psycopg2.Error as exc:
        if data.problem:
            raise Declined(data.problem) from None
        if isinstance(exc, psycopg2.DataError):
            # Field count, encoding, newline style: the Python read reports the row.
            message = " ".join((exc.pgerror or str(exc)).split())
            raise Declined(f"{part.where}: COPY refused it ({message})") from None
        raise
    staged.ends.append((staged.ends[-1] if staged.ends else 0) + int(cur.rowcount))
    staged.wheres.append(part.where)
    staged.junk = max(staged.junk, extra)


def _judge_bad_rows(
    cur: psycopg2.extensions.cursor, columns: _Columns, staged: _Staged, reader: RecordReader
) -> None:
    """Let the Python reader judge every row SQL could not pass; count, raise or fall back."""
    g, k = len(columns.groups), len(columns.keys)
    with cur.connection.cursor(name="luigi_ufo_bad_rows") as bad:
        bad.itersize = _BAD_FETCH
        bad.execute(
            sql.SQL("SELECT ln, {} FROM {} WHERE {} ORDER BY ln").format(
                columns.ids(columns.values), _STAGE, columns.bad_row()
            )
        )
        for ln, *values in bad:
            text = ["" if v is None else str(v) for v in values]
            where = staged.where(int(ln))
            record = reader.judge(tuple(text[:g]), tuple(text[g : g + k]), text[-1], where)
            if record is not None:
                raise Declined(f"{where}: measure {text[-1]!r} is not an ASCII integer")


def _check_unique_keys(
    cur: psycopg2.extensions.cursor, columns: _Columns, staged: _Staged, good: sql.Composable
) -> None:
    """Raise like ``top_n`` when a key appears twice within a group."""
    both = columns.ids((*columns.groups, *columns.keys))
    cur.execute(
        sql.SQL("SELECT 1 FROM {} WHERE {} GROUP BY {} HAVING count(*) > 1 LIMIT 1").format(
            _STAGE, good, both
        )
    )
    if cur.fetchone() is None:
        return
    # top_n checks groups in the order of their first row and reports a group's first repeat.
    groups = columns.ids(columns.groups) if columns.groups else sql.SQL("1")
    cur.execute(
        sql.SQL(
            "WITH good AS (SELECT * FROM {stage} WHERE {good}), "
            "numbered AS (SELECT {both}, ln, row_number() OVER (PARTITION BY {both} ORDER BY ln) "
            "AS i, min(ln) OVER (PARTITION BY {groups}) AS group_start FROM good) "
            "SELECT {both}, ln FROM numbered WHERE i = 2 ORDER BY group_start, ln LIMIT 1"
        ).format(stage=_STAGE, good=good, both=both, groups=groups)
    )
    row = cur.fetchone()
    if row is None:
        return
    g = len(columns.groups)
    raise duplicate_key_error(
        Record(tuple(row[:g]), tuple(row[g:-1]), None, staged.where(int(row[-1])))
    )


def _value(expression: sql.Composable, type_name: str | None) -> sql.Composable:
    if type_name is None:
        return expression
    return sql.SQL("CAST({} AS {})").format(expression, sql.SQL(type_name))


def _insert_ranked(
    spec: LoadSpec,
    into: q.TableName,
    columns: _Columns,
    types: dict[str, str | None],
    n: int,
    ties: Ties,
    good: sql.Composable,
    measure_type: str,
) -> sql.Composed:
    """Return the INSERT of the top ``n`` staged rows, ranked as ``top_n`` ranks them."""
    table = spec.table
    # Peers of rank() and dense_rank() share the measure; row_number() breaks ties by key.
    order: list[sql.Composable] = [sql.SQL("mv DESC")]
    if ties == "stable":
        order += [sql.SQL('{} COLLATE "C"').format(sql.Identifier(c)) for c in columns.keys]
    partition_by = (
        sql.SQL("PARTITION BY {} ").format(columns.ids(columns.groups))
        if columns.groups
        else sql.SQL("")
    )
    # Without groups, the rows that can make the cut come from a bounded top-N sort (memory
    # and time for N rows, not all of them); dense ranks need every distinct value.
    if columns.groups or ties == "dense":
        head: sql.Composable = sql.SQL("")
    elif ties == "stable":
        head = sql.SQL(" ORDER BY {} LIMIT {}").format(sql.SQL(", ").join(order), sql.Literal(n))
    else:
        head = sql.SQL(" ORDER BY mv DESC FETCH FIRST {} ROWS WITH TIES").format(sql.Literal(n))
    ranked_rows = sql.SQL(
        "SELECT {values}, mv, {function}() OVER ({partition}ORDER BY {order}) AS r "
        "FROM (SELECT {values}, {measure}::{measure_type} AS mv FROM {stage} WHERE {good}{head}) v"
    ).format(
        head=head,
        values=columns.ids((*columns.groups, *columns.keys)),
        function=sql.SQL(_RANK_FUNCTION[ties]),
        partition=partition_by,
        order=sql.SQL(", ").join(order),
        measure=sql.Identifier(columns.measure),
        measure_type=sql.SQL(measure_type),
        stage=_STAGE,
        good=good,
    )
    selected = [
        _value(sql.Literal(copy_text(v)), types[c.name])
        for c, v in zip(table.partition, spec.partition_values, strict=True)
    ]
    for column, staged in zip(table.group, columns.groups, strict=True):
        selected.append(_value(sql.Identifier(staged), types[column.name]))
    selected.append(sql.SQL("r"))
    for column, staged in zip(table.key, columns.keys, strict=True):
        selected.append(_value(sql.Identifier(staged), types[column.name]))
    measure_column = types[table.measure.name]
    # The Python path writes str(int): text in canonical form, read by the column's type.
    selected.append(
        sql.SQL("mv")
        if measure_column == measure_type
        else _value(sql.SQL("mv::text"), measure_column)
    )
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM ({}) ranked WHERE r <= {}").format(
        into.identifier,
        sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
        sql.SQL(", ").join(selected),
        ranked_rows,
        sql.Literal(n),
    )
