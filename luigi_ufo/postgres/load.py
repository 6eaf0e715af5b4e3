"""Load ranked rows into PostgreSQL in one transaction: the table holds the old or the new rows.

One load: create the schema, table and marker table if missing; take a transaction-scoped
advisory lock on the partition (so concurrent loads of the *same* partition run one after the
other, while different partitions load side by side); delete the partition's rows; stream the new
rows with ``COPY ... FROM STDIN``; upsert the marker row ``(update_id, target_table)``; commit.
Any error rolls everything back, including a table created by this load.

A table that is ``PARTITION BY LIST`` on its one partition column (what a spec with
``partitioned=True`` creates) is replaced by swapping child tables instead of deleting
(:mod:`luigi_ufo.postgres.swap`): a rerun then leaves no dead tuples behind.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any, cast

import psycopg2
import psycopg2.extensions

import luigi_ufo.postgres.sql as q
from luigi_ufo.errors import InvalidSpecError, LoadError
from luigi_ufo.postgres.connection import connect, transaction
from luigi_ufo.postgres.ranking.rules import Ranked, Ties
from luigi_ufo.postgres.settings import ConnectionSettings
from luigi_ufo.postgres.swap import find_swap

__all__ = [
    "LoadResult",
    "LoadSpec",
    "Writer",
    "copy_text",
    "copy_writer",
    "default_type",
    "load",
    "load_with",
    "partition_lock_key",
]

logger = logging.getLogger(__name__)

DEFAULT_KEY_TYPE = "text"
DEFAULT_MEASURE_TYPE = "numeric"
RANK_TYPE = "integer"
_BATCH_ROWS = 4096  # rows per read() of the COPY stream: big enough to amortise, bounded memory


def default_type(value: object) -> str:
    """Return the column type used for a partition value of this Python type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, datetime.datetime):
        return "timestamp with time zone" if value.tzinfo else "timestamp"
    if isinstance(value, datetime.date):
        return "date"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double precision"
    if isinstance(value, Decimal):
        return "numeric"
    return "text"


@dataclass(frozen=True)
class LoadSpec:
    """Everything one load needs: table shape, partition values, marker identity, locking."""

    table: q.TableSpec
    partition_values: tuple[Any, ...]
    update_id: str
    marker_table: q.TableName
    lock: bool = True
    partitioned: bool = False  # create the table PARTITION BY LIST (one partition column)
    made_from: str | None = None  # what the rows are made from, recorded in the marker row

    def __post_init__(self) -> None:
        if len(self.partition_values) != len(self.table.partition):
            raise InvalidSpecError(
                f"{len(self.partition_values)} partition value(s) for "
                f"{len(self.table.partition)} partition column(s) of {self.table.table}"
            )
        if not self.update_id:
            raise InvalidSpecError("update_id is empty; use the task id")

    @classmethod
    def build(
        cls,
        *,
        table: object,
        rank_by: str,
        key_columns: Sequence[str],
        update_id: str,
        group_by: Sequence[str] = (),
        partition: Mapping[str, Any] | None = None,
        column_types: Mapping[str, str] | None = None,
        rank_column: str = "rank",
        ties: Ties = "stable",
        marker_table: object = "luigi_ufo_markers",
        lock: bool = True,
        partitioned: bool = False,
        made_from: str | None = None,
    ) -> LoadSpec:
        """Validate names, values and types and build a spec (types default by role/value)."""
        partition = dict(partition or {})
        types = dict(column_types or {})
        for column, value in partition.items():
            if value is None or value == "":
                raise InvalidSpecError(
                    f"partition column {column!r} has value {value!r}; a run must be identified "
                    "by non-empty values"
                )
            if "\x00" in copy_text(value):
                raise InvalidSpecError(
                    f"partition column {column!r} has value {value!r}, which contains a NUL "
                    "character (\\x00) that PostgreSQL cannot store in text; remove it from "
                    "the parameter value"
                )
        if "\x00" in update_id:
            raise InvalidSpecError(
                f"update_id {update_id!r} contains a NUL character (\\x00), which PostgreSQL "
                "cannot store in text; remove it from the task's parameter values"
            )
        if rank_column in types:
            raise InvalidSpecError(
                f"column_types sets the rank column {rank_column!r}; it is always {RANK_TYPE}"
            )
        known = {*partition, *group_by, *key_columns, rank_by}
        unknown = sorted(set(types) - known)
        if unknown:
            raise InvalidSpecError(
                f"column_types names unknown column(s) {unknown!r}; known: {sorted(known)!r}"
            )

        def col(name: str, default: str) -> q.Column:
            return q.Column(name, types.get(name, default))

        spec = q.TableSpec(
            table=q.parse_table_name(table),
            partition=tuple(col(c, default_type(v)) for c, v in partition.items()),
            group=tuple(col(c, DEFAULT_KEY_TYPE) for c in group_by),
            key=tuple(col(c, DEFAULT_KEY_TYPE) for c in key_columns),
            measure=col(rank_by, DEFAULT_MEASURE_TYPE),
            rank=q.Column(rank_column, RANK_TYPE),
            ties=ties,
        )
        return cls(
            table=spec,
            partition_values=tuple(partition.values()),
            update_id=update_id,
            marker_table=q.parse_table_name(marker_table),
            lock=lock,
            partitioned=partitioned,
            made_from=made_from,
        )

    def partition_text(self) -> str:
        """Return ``col=value, ...`` for messages."""
        pairs = zip(self.table.partition, self.partition_values, strict=True)
        return ", ".join(f"{c.name}={v!r}" for c, v in pairs) or "(whole table)"


@dataclass(frozen=True)
class LoadResult:
    """What a committed load did."""

    table: str
    rows: int
    replaced: int
    seconds: float


class _CopyStream:
    """A file-like object that renders rows to CSV lazily, batch by batch, for ``copy_expert``."""

    def __init__(self, rows: Iterator[Sequence[Any]]) -> None:
        self._rows = rows
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self.count = 0

    def read(self, size: int = -1) -> str:
        batch = list(islice(self._rows, _BATCH_ROWS))
        if not batch:
            return ""
        self.count += len(batch)
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerows(batch)
        return self._buffer.getvalue()

    def readline(self, size: int = -1) -> str:
        return self.read(size)


def copy_text(value: object) -> str:
    """Return a partition value as COPY text (rendered once per load, not once per row)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):  # datetime too: ISO 8601 is what PostgreSQL reads
        return value.isoformat()
    return str(value)


def _rows(spec: LoadSpec, ranked: Iterable[Ranked]) -> Iterator[tuple[Any, ...]]:
    partition = tuple(copy_text(v) for v in spec.partition_values)
    for r in ranked:
        yield (*partition, *r.group, r.rank, *r.key, r.measure)


def partition_lock_key(spec: LoadSpec) -> str:
    """Return the text whose hash keys the advisory lock of the spec's partition."""
    values = "\x1f".join(str(v) for v in spec.partition_values)
    return f"luigi_ufo:partition:{spec.table.table.quoted}:{values}"


def _lock(cur: psycopg2.extensions.cursor, key: str) -> None:
    cur.execute(q.ADVISORY_XACT_LOCK, (key,))


def _fetch_bool(cur: psycopg2.extensions.cursor, stmt: Any, params: tuple[Any, ...]) -> bool:
    cur.execute(stmt, params)
    row = cur.fetchone()
    return bool(row and row[0])


def _ensure_schema(cur: psycopg2.extensions.cursor, schema: str | None) -> None:
    if schema is None or _fetch_bool(cur, q.SCHEMA_EXISTS, (schema,)):
        return
    # Two loads creating the same schema would collide in the catalog; serialize them.
    _lock(cur, f"luigi_ufo:schema:{q.quote_ident(schema)}")
    cur.execute(q.create_schema(schema))


def _ensure_table(cur: psycopg2.extensions.cursor, name: q.TableName, create: Any) -> bool:
    if _fetch_bool(cur, q.TABLE_EXISTS, (name.quoted,)):
        return False
    _ensure_schema(cur, name.schema)
    # The lock is held until commit; a waiting load re-checks and finds the committed table.
    _lock(cur, f"luigi_ufo:table:{name.quoted}")
    if _fetch_bool(cur, q.TABLE_EXISTS, (name.quoted,)):
        return False
    cur.execute(create)
    return True


def _check_columns(cur: psycopg2.extensions.cursor, spec: q.TableSpec) -> None:
    cur.execute(q.EXISTING_COLUMNS, (spec.table.quoted,))
    have = [row[0] for row in cur.fetchall()]
    want = [c.name for c in spec.columns]
    if sorted(have) != sorted(want):
        raise InvalidSpecError(
            f"table {spec.table} exists with columns {have!r} but this load writes {want!r}; "
            "drop or rename the old table, or change the task's table or columns"
        )


Writer = Callable[[psycopg2.extensions.cursor, q.TableName], int]
"""Writes a partition's new rows into the table named, with the cursor of the load's
transaction (the spec's table, or a partition's new child table); returns the count."""


def copy_writer(spec: LoadSpec, ranked: Iterable[Ranked]) -> Writer:
    """Return a writer streaming ``ranked`` rows with ``COPY ... FROM STDIN`` (CSV)."""

    def write(cur: psycopg2.extensions.cursor, into: q.TableName) -> int:
        stream = _CopyStream(_rows(spec, ranked))
        # The stream yields str, which psycopg2 encodes in the connection's encoding.
        cur.copy_expert(q.copy_from_stdin(spec.table, into), cast(Any, stream), size=1 << 16)
        return stream.count

    return write


def _run(conn: psycopg2.extensions.connection, spec: LoadSpec, write: Writer) -> tuple[int, int]:
    table = spec.table
    with transaction(conn) as cur:
        _ensure_table(cur, spec.marker_table, q.create_marker_table(spec.marker_table))
        if spec.made_from is not None:
            _ensure_made_from(cur, spec.marker_table)
        partitioned = spec.partitioned and len(table.partition) == 1
        create = q.create_partitioned_table(table) if partitioned else q.create_table(table)
        if not _ensure_table(cur, table.table, create):
            _check_columns(cur, table)
        if spec.lock:
            _lock(cur, partition_lock_key(spec))
        swap = find_swap(cur, table, tuple(copy_text(v) for v in spec.partition_values))
        if swap is not None:
            replaced, written = swap.load(cur, write)
        else:
            cur.execute(q.delete_partition(table, spec.partition_values))
            replaced = cur.rowcount
            written = write(cur, table.table)
        cur.execute(q.upsert_marker(spec.marker_table, spec.update_id, table.table, spec.made_from))
    return replaced, written


def _ensure_made_from(cur: psycopg2.extensions.cursor, marker: q.TableName) -> None:
    """Give a marker table made before lineage its ``made_from`` column (once)."""
    cur.execute(q.EXISTING_COLUMNS, (marker.quoted,))
    if q.MADE_FROM not in {row[0] for row in cur.fetchall()}:
        # Only then: ALTER TABLE locks the marker table, which every load writes.
        cur.execute(q.add_made_from(marker))


def load(
    spec: LoadSpec,
    rows: Iterable[Ranked],
    *,
    settings: ConnectionSettings | None = None,
    connection: psycopg2.extensions.connection | None = None,
) -> LoadResult:
    """Replace the partition's rows with ``rows`` in one transaction and write the marker.

    Uses ``connection`` if given (left open), else opens and closes one from ``settings``
    (default: ``[postgres_topn]``). Raises LoadError after rolling back on any database error.
    """
    return load_with(spec, copy_writer(spec, rows), settings=settings, connection=connection)


def load_with(
    spec: LoadSpec,
    write: Writer,
    *,
    settings: ConnectionSettings | None = None,
    connection: psycopg2.extensions.connection | None = None,
) -> LoadResult:
    """Like :func:`load`, with the partition's new rows written by ``write``."""
    start = time.perf_counter()
    table = spec.table.table
    try:
        if connection is not None:
            replaced, written = _run(connection, spec, write)
        else:
            with connect(settings or ConnectionSettings.from_config()) as conn:
                replaced, written = _run(conn, spec, write)
    except psycopg2.Error as exc:
        raise LoadError(
            f"loading into {table} ({spec.partition_text()}) failed and was rolled back, so the "
            f"table keeps its previous rows: {_describe(exc)}"
        ) from exc
    seconds = time.perf_counter() - start
    logger.info(
        "loaded %d rows into %s (%s), replacing %d, in %.3f s",
        written,
        table,
        spec.partition_text(),
        replaced,
        seconds,
    )
    return LoadResult(table=str(table), rows=written, replaced=replaced, seconds=seconds)


def _describe(exc: psycopg2.Error) -> str:
    """Return what went wrong and the fix, on one line."""
    # Server text on one line: "ERROR: ... DETAIL: ... CONTEXT: COPY t, line 5001, ...".
    detail = " ".join((exc.pgerror or str(exc)).split())
    # No SQLSTATE (libpq lost the socket), 08: connection exception, 57P: shutdown/terminate.
    code = exc.pgcode or ""
    if isinstance(exc, psycopg2.OperationalError) and (not code or code.startswith(("08", "57P"))):
        # A terminated backend or a stopped server: libpq's own text is often just
        # "invalid socket" or "server closed the connection unexpectedly".
        return (
            f"the connection to the server was lost during the load ({detail}), e.g. the "
            "backend was terminated (pg_terminate_backend, an administrator or a restart) or "
            "the server stopped; nothing was committed: check the server and rerun"
        )
    return f"{detail}; fix the cause and rerun"
