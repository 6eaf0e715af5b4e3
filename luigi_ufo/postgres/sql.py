"""SQL of a top-N load, composed only with ``psycopg2.sql`` and inspectable without a server.

Table names: a ``(schema, table)`` or ``(table,)`` tuple is taken verbatim, each part one
identifier. A string is read like SQL: ``"schema.table"`` is two identifiers, and a part written
in double quotes may hold dots and doubled quotes (``'"a.b"'`` is one table named ``a.b``,
``'x."q""t"'`` is table ``q"t`` in schema ``x``). Unlike SQL, unquoted parts are *not* folded
to lower case: every name is used exactly as written, case included, and always quoted.
Column names are plain strings, never parsed. PostgreSQL would silently truncate names longer
than 63 bytes, so they are refused, as are empty names and NUL characters.

Column types are SQL type names matched against a strict pattern (``bigint``, ``varchar(2)``,
``numeric(12, 2)``, ``double precision``, ``timestamp(3) with time zone``); anything else,
e.g. a quote or a semicolon, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

from luigi_ufo.errors import InvalidSpecError
from luigi_ufo.postgres.ranking.rules import Ties, check_ties

__all__ = [
    "ADVISORY_XACT_LOCK",
    "EXISTING_COLUMNS",
    "MADE_FROM",
    "MARKER_AND_TABLE_EXIST",
    "SCHEMA_EXISTS",
    "TABLE_EXISTS",
    "Column",
    "TableName",
    "TableSpec",
    "add_made_from",
    "check_identifier",
    "check_type",
    "copy_from_stdin",
    "create_marker_table",
    "create_partitioned_table",
    "create_schema",
    "create_table",
    "delete_marker",
    "delete_partition",
    "parse_table_name",
    "quote_ident",
    "select_markers",
    "upsert_marker",
]

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names silently
_WORD = r"[A-Za-z_][A-Za-z0-9_]*"
_TYPE_RE = re.compile(rf"{_WORD}(?: {_WORD})*(?:\(\d+(?:, ?\d+)?\))?(?: {_WORD})*")


def check_identifier(name: object, what: str = "identifier") -> str:
    """Return ``name`` if PostgreSQL can store it unchanged as an identifier, else raise."""
    if not isinstance(name, str) or not name:
        raise InvalidSpecError(f"{what} must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise InvalidSpecError(f"{what} {name!r} contains a NUL character; remove it")
    size = len(name.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        raise InvalidSpecError(
            f"{what} {name!r} is {size} bytes long; PostgreSQL would truncate it to "
            f"{MAX_IDENTIFIER_BYTES} bytes, so use a shorter name"
        )
    return name


def check_type(type_name: object, column: str) -> str:
    """Return ``type_name`` if it is a plain SQL type name, else raise InvalidSpecError."""
    if not isinstance(type_name, str) or not _TYPE_RE.fullmatch(type_name):
        raise InvalidSpecError(
            f"column type {type_name!r} of column {column!r} is not a plain SQL type name; "
            "use e.g. 'bigint', 'text', 'varchar(2)', 'numeric(12, 2)' or 'date'"
        )
    return type_name


def quote_ident(name: str) -> str:
    """Quote one identifier the way PostgreSQL does (double quotes, inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableName:
    """A table name, optionally schema-qualified; parts are exact identifiers."""

    name: str
    schema: str | None = None

    def __post_init__(self) -> None:
        check_identifier(self.name, "table name")
        if self.schema is not None:
            check_identifier(self.schema, "schema name")

    @property
    def parts(self) -> tuple[str, ...]:
        """Return (schema, name) or (name,)."""
        return (self.name,) if self.schema is None else (self.schema, self.name)

    @property
    def identifier(self) -> sql.Identifier:
        """Return the name as a (qualified) ``psycopg2.sql.Identifier``."""
        return sql.Identifier(*self.parts)

    @property
    def quoted(self) -> str:
        """Return the canonical quoted form, e.g. ``"s"."t"`` (marker key, to_regclass input)."""
        return ".".join(quote_ident(p) for p in self.parts)

    def __str__(self) -> str:
        return self.quoted


def _split_quoted(text: str) -> list[str]:
    parts: list[str] = []
    i, size = 0, len(text)
    while True:
        if i < size and text[i] == '"':
            chunk: list[str] = []
            i += 1
            while True:
                end = text.find('"', i)
                if end < 0:
                    raise InvalidSpecError(
                        f"table name {text!r} has an unterminated quoted part; close the quote"
                    )
                chunk.append(text[i:end])
                if text.startswith('""', end):
                    chunk.append('"')
                    i = end + 2
                    continue
                i = end + 1
                break
            parts.append("".join(chunk))
        else:
            end = i
            while end < size and text[end] not in '."':
                end += 1
            part = text[i:end]
            if part != part.strip():
                raise InvalidSpecError(
                    f"table name {text!r} has a part with surrounding spaces ({part!r}); "
                    "quote it ('\"x y\"') if the spaces are part of the name"
                )
            parts.append(part)
            i = end
        if i == size:
            return parts
        if text[i] != ".":
            raise InvalidSpecError(
                f"table name {text!r}: unexpected {text[i]!r} at offset {i}; "
                "quote a part that contains quotes or dots, e.g. '\"a.b\"'"
            )
        i += 1


def parse_table_name(value: object) -> TableName:
    """Parse ``"table"``, ``"schema.table"``, ``'"a.b"'`` or a (schema, table) tuple."""
    if isinstance(value, TableName):
        return value
    if isinstance(value, tuple | list):
        parts = list(value)
    elif isinstance(value, str):
        if not value:
            raise InvalidSpecError("table name is empty; set table = 'my_table'")
        parts = _split_quoted(value)
    else:
        raise InvalidSpecError(f"table must be a string or a (schema, table) tuple, got {value!r}")
    if len(parts) == 1:
        return TableName(parts[0])
    if len(parts) == 2:
        return TableName(parts[1], schema=parts[0])
    raise InvalidSpecError(
        f"table name {value!r} has {len(parts)} parts; give 'table' or 'schema.table' "
        "(quote a part that contains a dot)"
    )


@dataclass(frozen=True)
class Column:
    """A column name and its SQL type."""

    name: str
    type: str

    def __post_init__(self) -> None:
        check_identifier(self.name, "column name")
        check_type(self.type, self.name)


@dataclass(frozen=True)
class TableSpec:
    """The shape of a top-N table: ``partition, group, rank, key, measure`` columns in order."""

    table: TableName
    partition: tuple[Column, ...]
    group: tuple[Column, ...]
    key: tuple[Column, ...]
    measure: Column
    rank: Column
    ties: Ties = "stable"

    def __post_init__(self) -> None:
        check_ties(self.ties)
        if not self.key:
            raise InvalidSpecError(f"table {self.table} needs at least one key column")
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidSpecError(
                f"column name(s) {duplicates!r} used twice in table {self.table} "
                "(partition, group, rank, key and measure columns must differ); rename one"
            )

    @property
    def columns(self) -> tuple[Column, ...]:
        """Return every column in table order."""
        return (*self.partition, *self.group, self.rank, *self.key, self.measure)

    @property
    def primary_key(self) -> tuple[Column, ...]:
        """Return (partition, group, rank), plus the key where ties share a rank."""
        base = (*self.partition, *self.group, self.rank)
        return base if self.ties == "stable" else (*base, *self.key)


def _names(columns: tuple[Column, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)


def create_schema(schema: str) -> sql.Composed:
    """Return ``CREATE SCHEMA IF NOT EXISTS``."""
    return sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))


def create_table(spec: TableSpec) -> sql.Composed:
    """Return ``CREATE TABLE IF NOT EXISTS`` with typed NOT NULL columns and the primary key."""
    columns = [
        sql.SQL("{} {} NOT NULL").format(sql.Identifier(c.name), sql.SQL(c.type))
        for c in spec.columns
    ]
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, CHECK ({} >= 1), PRIMARY KEY ({}))").format(
        spec.table.identifier,
        sql.SQL(", ").join(columns),
        sql.Identifier(spec.rank.name),
        _names(spec.primary_key),
    )


def create_partitioned_table(spec: TableSpec) -> sql.Composed:
    """Return :func:`create_table` ``PARTITION BY LIST`` on the one partition column."""
    if len(spec.partition) != 1:
        raise InvalidSpecError(
            f"table {spec.table} has {len(spec.partition)} partition columns; a partitioned "
            "table takes exactly one"
        )
    return sql.SQL("{} PARTITION BY LIST ({})").format(
        create_table(spec), sql.Identifier(spec.partition[0].name)
    )


def delete_partition(spec: TableSpec, values: Sequence[Any]) -> sql.Composed:
    """Return ``DELETE`` of the partition whose column values are ``values``, in order.

    Values are literals, never ``%s`` placeholders: a statement executed with parameters would
    read a ``%`` inside an identifier as a placeholder. Execute every statement here without
    parameters.
    """
    if len(values) != len(spec.partition):
        raise InvalidSpecError(
            f"{len(values)} value(s) for the {len(spec.partition)} partition column(s) of "
            f"{spec.table}"
        )
    if not spec.partition:
        return sql.SQL("DELETE FROM {}").format(spec.table.identifier)
    where = sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(c.name), sql.Literal(v))
        for c, v in zip(spec.partition, values, strict=True)
    )
    return sql.SQL("DELETE FROM {} WHERE {}").format(spec.table.identifier, where)


def copy_from_stdin(spec: TableSpec, into: TableName | None = None) -> sql.Composed:
    """Return ``COPY ... FROM STDIN`` in CSV format over every column, in table order.

    ``into``: the table written, if not the spec's (a partition's new child table).
    """
    return sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        (into or spec.table).identifier, _names(spec.columns)
    )


#: The marker column that records what a load was made from (its lineage stamp, or NULL).
MADE_FROM = "made_from"


def create_marker_table(marker: TableName) -> sql.Composed:
    """Return ``CREATE TABLE IF NOT EXISTS`` of the marker table keyed on (update_id, table)."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (update_id text NOT NULL, target_table text NOT NULL, "
        "inserted timestamptz NOT NULL DEFAULT now(), {} text, "
        "PRIMARY KEY (update_id, target_table))"
    ).format(marker.identifier, sql.Identifier(MADE_FROM))


def add_made_from(marker: TableName) -> sql.Composed:
    """Return the ``ALTER TABLE`` giving a marker table made before lineage its column."""
    return sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} text").format(
        marker.identifier, sql.Identifier(MADE_FROM)
    )


def upsert_marker(
    marker: TableName, update_id: str, table: TableName, made_from: str | None = None
) -> sql.Composed:
    """Return the upsert of the marker row (update_id, quoted table name[, made_from])."""
    if made_from is None:
        return sql.SQL(
            "INSERT INTO {} (update_id, target_table) VALUES ({}, {}) "
            "ON CONFLICT (update_id, target_table) DO UPDATE SET inserted = now()"
        ).format(marker.identifier, sql.Literal(update_id), sql.Literal(table.quoted))
    return sql.SQL(
        "INSERT INTO {} (update_id, target_table, {}) VALUES ({}, {}, {}) "
        "ON CONFLICT (update_id, target_table) DO UPDATE SET inserted = now(), {} = EXCLUDED.{}"
    ).format(
        marker.identifier,
        sql.Identifier(MADE_FROM),
        sql.Literal(update_id),
        sql.Literal(table.quoted),
        sql.Literal(made_from),
        sql.Identifier(MADE_FROM),
        sql.Identifier(MADE_FROM),
    )


def select_markers(marker: TableName, update_ids: Sequence[str], table: TableName) -> sql.Composed:
    """Return the lookup of which ``update_ids`` have a marker row for ``table``, in one query:
    rows of (update_id, made_from), made_from NULL where the table has no such column."""
    # One literal per id (not a %s array parameter): the statement holds identifiers. The
    # cast types an empty array, which PostgreSQL cannot infer from ``ARRAY[]`` alone.
    # to_jsonb(m) ->> reads the column if the table has it (marker tables made before lineage
    # do not), so one statement serves both.
    ids = sql.SQL(", ").join(sql.Literal(u) for u in update_ids)
    return sql.SQL(
        "SELECT update_id, to_jsonb(m) ->> {} FROM {} AS m "
        "WHERE target_table = {} AND update_id = ANY(ARRAY[{}]::text[])"
    ).format(sql.Literal(MADE_FROM), marker.identifier, sql.Literal(table.quoted), ids)


def delete_marker(marker: TableName, update_id: str, table: TableName) -> sql.Composed:
    """Return the ``DELETE`` of the marker row (update_id, quoted table name)."""
    return sql.SQL("DELETE FROM {} WHERE update_id = {} AND target_table = {}").format(
        marker.identifier, sql.Literal(update_id), sql.Literal(table.quoted)
    )


# The statements below hold no identifier, so they take %s parameters safely.
# Parameter: TableName.quoted; to_regclass returns NULL (not an error) for a missing table.
TABLE_EXISTS = sql.SQL("SELECT to_regclass(%s) IS NOT NULL")
# Parameters: the marker table's and the target table's TableName.quoted.
MARKER_AND_TABLE_EXIST = sql.SQL("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL")
SCHEMA_EXISTS = sql.SQL("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)")
EXISTING_COLUMNS = sql.SQL(
    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
    "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)
# Parameter: any text; hashed to the bigint key of a transaction-scoped advisory lock.
ADVISORY_XACT_LOCK = sql.SQL("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))")
