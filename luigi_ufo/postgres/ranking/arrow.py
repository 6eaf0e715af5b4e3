"""Check and rank small, clean CSV input in Python with pyarrow: one parse, one sort, one COPY.

With the optional ``columnar`` extra (pyarrow and numpy) installed, input of at most
:data:`MAX_BYTES` is parsed column-wise, checked, ranked and written with a single ``COPY`` of
the ranked rows into the table: no staging table, no ``INSERT .. SELECT``. The rows, ranks and
counts are those of ``read_records`` + ``top_n`` + ``load``, because this path takes only input
where pyarrow's parsing provably agrees with Python's ``csv`` module and that has no bad row:

- no double quote, carriage return, NUL or blank line in the bytes; every record has the
  header's field count; the bytes are UTF-8;
- every key and group value is non-empty; every measure is ``-?[0-9]{1,18}`` (an int64,
  read exactly as ``int()`` reads it); no key repeats within its group.

Strings are compared bytewise in UTF-8, which is Python's code point order. Anything else raises
:class:`~luigi_ufo.postgres.ranking.parts.Declined` before the load starts, and the next engine,
the SQL path (:mod:`luigi_ufo.postgres.ranking.database`), reports bad rows and repeats exactly.
Bigger input takes the SQL path too, which keeps the task's memory bounded.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
from collections.abc import Sequence
from typing import Any

import psycopg2.extensions

import luigi_ufo.postgres.sql as q
from luigi_ufo.postgres.load import LoadResult, LoadSpec, Writer, copy_text, load_with
from luigi_ufo.postgres.ranking.parts import CsvPart, Declined, SpecFor, check_header, read_header
from luigi_ufo.postgres.ranking.reader import ReadResult, RecordReader
from luigi_ufo.postgres.ranking.rules import Ties
from luigi_ufo.postgres.settings import ConnectionSettings

__all__ = ["MAX_BYTES", "available", "rank_columnar"]

MAX_BYTES = 32 << 20  # input bytes; past this, ranking in SQL costs less memory
_MEASURE = r"^-?[0-9]{1,18}$"  # int64 for sure, and what int() reads the same way
_FORBIDDEN = (b'"', b"\r", b"\x00", b"\n\n")
_SLICE_ROWS = 1 << 15  # rows rendered per read() of the COPY stream


def available() -> bool:
    """Return whether pyarrow and numpy are installed (without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("pyarrow", "numpy"))


def _modules() -> tuple[Any, Any, Any, Any]:
    """Return pyarrow, pyarrow.compute, pyarrow.csv and numpy (untyped: no stubs needed)."""
    # importlib, not import statements: a user's strict mypy then needs no pyarrow stubs.
    names = ("pyarrow", "pyarrow.compute", "pyarrow.csv", "numpy")
    pa, pc, pcsv, np = (importlib.import_module(name) for name in names)
    return pa, pc, pcsv, np


def rank_columnar(
    parts: Sequence[CsvPart],
    *,
    reader: RecordReader,
    n: int,
    ties: Ties,
    spec_for: SpecFor,
    settings: ConnectionSettings,
    max_bytes: int = MAX_BYTES,
) -> tuple[ReadResult, LoadResult]:
    """Load the top ``n`` of ``parts``, ranked with pyarrow; raise Declined where it cannot."""
    if not available():
        raise Declined("pyarrow and numpy are not installed (extra 'columnar')")
    contents: list[bytes] = []
    left = max_bytes
    for part in parts:
        with part.open() as stream:
            if stream.seekable():  # a file: its size, without reading it
                if stream.seek(0, io.SEEK_END) > left:
                    raise Declined(f"input is larger than {max_bytes} bytes")
                stream.seek(0)
            contents.append(stream.read(left + 1))
        left -= len(contents[-1])
        if left < 0:
            raise Declined(f"input is larger than {max_bytes} bytes")
    try:  # imported only now: the SQL path of big input does without its memory
        pa = _modules()[0]
    except ImportError as exc:
        raise Declined(f"pyarrow or numpy does not import: {exc}") from None
    tables: list[Any] = []
    names: tuple[str, ...] | None = None
    for part in parts:
        data = contents.pop(0)
        buffer = io.BytesIO(data)
        header, head = read_header(buffer, part.where)
        if header is None:
            continue
        keys = check_header(reader, header, part.where)
        names = (*reader.groups, *keys, reader.rank_by)
        tables.append(_parse(data[buffer.tell() - len(head) :], header, names, part.where))
        del data, buffer
    if names is None:
        raise Declined("no part has a header")
    g, k = len(reader.groups), len(names) - len(reader.groups) - 1
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    _check_unique(table, g + k)
    spec = spec_for(names[g:-1])
    result = load_with(spec, _writer(spec, _ranked(table, g, n, ties)), settings=settings)
    return reader.result, result


def _parse(data: bytes, header: list[str], names: Sequence[str], where: str) -> Any:
    """Return the part's needed columns as a table of (groups, keys, int64 measure) named c0..."""
    pa, pc, pcsv, _ = _modules()
    for forbidden in _FORBIDDEN:
        if forbidden in data or data.startswith(b"\n"):
            raise Declined(f"{where} holds {forbidden!r} or a blank line")
    columns = [f"c{i}" for i in range(len(header))]
    # A needed column is its first occurrence in the header, as in the Python read.
    wanted = [columns[header.index(name)] for name in names]
    if not data:
        return pa.table(
            {f"c{i}": pa.array([], pa.string()) for i in range(len(names) - 1)}
            | {f"c{len(names) - 1}": pa.array([], pa.int64())}
        )
    try:
        parsed = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=columns),
            parse_options=pcsv.ParseOptions(
                quote_char=False, escape_char=False, newlines_in_values=False
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(set(wanted), pa.string()),
                include_columns=sorted(set(wanted)),
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:  # a field count, or bytes that are not UTF-8
        raise Declined(f"{where}: {exc}") from None
    values = [parsed[c] for c in wanted]
    for column in values[:-1]:
        if len(column) and pc.any(pc.equal(column, "")).as_py():
            raise Declined(f"{where} has an empty key or group value")
    measure = values[-1]
    if len(measure) and not pc.all(pc.match_substring_regex(measure, _MEASURE)).as_py():
        raise Declined(f"{where} has a measure that is not a plain integer")
    values[-1] = pc.cast(measure, pa.int64())
    return pa.table({f"c{i}": v for i, v in enumerate(values)})


def _check_unique(table: Any, width: int) -> None:
    pc = _modules()[1]
    ids = [f"c{i}" for i in range(width)]
    distinct = (
        pc.count_distinct(table[ids[0]]).as_py()
        if width == 1
        else table.group_by(ids).aggregate([]).num_rows
    )
    if distinct != table.num_rows:
        raise Declined("a key repeats within its group")


def _ranked(table: Any, g: int, n: int, ties: Ties) -> Any:
    """Return the kept rows in table column order (groups, rank, keys, measure), best first."""
    pa, pc, _, np = _modules()
    width = table.num_columns
    m = f"c{width - 1}"
    order = [(f"c{i}", "ascending") for i in range(g)] + [(m, "descending")]
    order += [(f"c{i}", "ascending") for i in range(g, width - 1)]
    ordered = table.take(pc.sort_indices(table, sort_keys=order))
    size = ordered.num_rows
    position = np.arange(size, dtype=np.int64)
    new_group = np.zeros(size, dtype=bool)
    if size:
        new_group[0] = True
    for i in range(g):
        column = ordered[f"c{i}"]
        new_group[1:] |= pc.not_equal(column[1:], column[:-1]).to_numpy(zero_copy_only=False)
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    if ties == "stable":
        rank = position - group_start + 1
    else:
        measure = ordered[m].to_numpy()
        new_value = new_group.copy()
        new_value[1:] |= measure[1:] != measure[:-1]
        if ties == "with_ties":
            rank = np.maximum.accumulate(np.where(new_value, position, 0)) - group_start + 1
        else:
            seen = np.cumsum(new_value)
            rank = seen - seen[group_start] + 1
    keep = rank <= n
    if not keep.all():
        ordered, rank = ordered.filter(pa.array(keep)), rank[keep]
    columns = [ordered[f"c{i}"] for i in range(g)]
    columns.append(pa.array(rank, pa.int64()))
    columns += [ordered[f"c{i}"] for i in range(g, width)]
    return pa.table({f"v{i}": c for i, c in enumerate(columns)})


class _CsvStream:
    """The ranked rows as COPY CSV, rendered slice by slice while the server reads the last."""

    def __init__(self, ranked: Any, partition_values: Sequence[Any]) -> None:
        self._ranked = ranked
        self._offset = 0
        self._prefix = b""
        if partition_values:
            # The partition values lead every row; csv quotes them as the Python path does.
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerow([copy_text(v) for v in partition_values])
            self._prefix = text.getvalue()[:-1].encode("utf-8") + b","

    def read(self, size: int = -1) -> bytes:
        if self._offset >= self._ranked.num_rows:
            return b""
        pa, _, pcsv, _ = _modules()
        rows = self._ranked.slice(self._offset, _SLICE_ROWS)
        self._offset += _SLICE_ROWS
        out = pa.BufferOutputStream()
        options = pcsv.WriteOptions(include_header=False, quoting_style="none")
        pcsv.write_csv(rows, out, write_options=options)
        body: bytes = out.getvalue().to_pybytes()
        if not self._prefix:
            return body
        return self._prefix + body[:-1].replace(b"\n", b"\n" + self._prefix) + b"\n"

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _writer(spec: LoadSpec, ranked: Any) -> Writer:
    def write(cur: psycopg2.extensions.cursor, into: q.TableName) -> int:
        _check_encoding(cur)
        stream = _CsvStream(ranked, spec.partition_values)
        cur.copy_expert(q.copy_from_stdin(spec.table, into), stream, size=1 << 16)
        return int(ranked.num_rows)

    return write


def _check_encoding(cur: psycopg2.extensions.cursor) -> None:
    # The payload is UTF-8 bytes, sent as they are.
    if str(cur.connection.encoding) != "UTF8":
        raise Declined(f"client encoding {cur.connection.encoding}, not UTF8")
