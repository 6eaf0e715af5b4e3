"""Replace a partition by swapping in a freshly loaded child table: no dead tuples, no bloat.

A table created with one partition column is ``PARTITION BY LIST`` on it (see
:func:`~luigi_ufo.postgres.sql.create_partitioned_table`), one child table per partition value.
A load then writes the new rows into a new, index-free child table, adds the parent's primary
key and check constraints plus a check that proves the partition bound (so attaching it scans
nothing), and at the end of the same transaction drops the old child and attaches the new one.
Readers of the parent wait only for that last step (``DROP`` of a partition takes an
``ACCESS EXCLUSIVE`` lock on the parent); a first load of a value only attaches, which lets
readers read on. Any failure rolls the whole swap back with the rest of the load.

A child's name is the parent's name cut to 38 bytes, ``_p`` and 16 hex digits of a hash of the
parent's full name, the column and the value, so two parents that share their first 38 bytes never
share a child name. Children named before the parent was hashed in (the hash of column and value
alone) are still found, replaced and renamed to the new name by the next load of their value.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

import luigi_ufo.postgres.sql as q
from luigi_ufo.errors import InvalidSpecError, LoadError

__all__ = ["Swap", "find_swap"]

# Parameter: the parent's TableName.quoted. LIST on one plain column: its name.
_LIST_KEY = sql.SQL(
    "SELECT a.attname FROM pg_partitioned_table p JOIN pg_attribute a "
    "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
    "WHERE p.partrelid = to_regclass(%s) AND p.partstrat = 'l' AND p.partnatts = 1"
)
_COLUMNS = sql.SQL(
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)
_PRIMARY_KEY = sql.SQL(
    "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY "
    "AS u(attnum, position) JOIN pg_attribute a ON a.attrelid = i.indrelid "
    "AND a.attnum = u.attnum WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
    "ORDER BY u.position"
)
_CHECKS = sql.SQL(
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = to_regclass(%s) AND contype = 'c' ORDER BY conname"
)
# Parameters: the child's and the parent's quoted names.
_IS_CHILD = sql.SQL(
    "SELECT EXISTS (SELECT 1 FROM pg_inherits "
    "WHERE inhrelid = to_regclass(%s) AND inhparent = to_regclass(%s))"
)
_PREFIX_BYTES = 38  # + "_p" + 16 hex + "_" + 6 hex <= 63


@dataclass(frozen=True)
class Swap:
    """How to replace one partition of a LIST-partitioned table."""

    parent: q.TableName
    column: str
    value: str  # the partition value as COPY text
    columns: tuple[tuple[str, str], ...]  # the parent's (name, type), in order

    def child(self, suffix: str = "") -> q.TableName:
        """Return the child table's name (``suffix``: a new child, before it is renamed)."""
        return self._named(f"{self.parent.quoted}\x1f{self.column}\x1f{self.value}", suffix)

    def legacy_child(self) -> q.TableName:
        """Return the name earlier versions gave the child (the parent not hashed in)."""
        return self._named(f"{self.column}\x1f{self.value}")

    def _named(self, key: str, suffix: str = "") -> q.TableName:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        prefix = self.parent.name.encode("utf-8")[:_PREFIX_BYTES].decode("utf-8", "ignore")
        return q.TableName(f"{prefix}_p{digest}{suffix}", schema=self.parent.schema)

    def _current(self, cur: psycopg2.extensions.cursor) -> q.TableName | None:
        """Return this value's attached child: under its name, else its legacy name; or None."""
        final, legacy = self.child(), self.legacy_child()
        if _fetch(cur, q.TABLE_EXISTS, final)[0][0]:
            if not _fetch(cur, _IS_CHILD, final, self.parent)[0][0]:
                raise LoadError(
                    f"table {final} exists but is not the partition {self.column}="
                    f"{self.value!r} of {self.parent}; rename it"
                )
            return final
        # A legacy name may belong to another parent with the same first 38 bytes: not ours.
        if (
            _fetch(cur, q.TABLE_EXISTS, legacy)[0][0]
            and _fetch(cur, _IS_CHILD, legacy, self.parent)[0][0]
        ):
            return legacy
        return None

    def load(
        self,
        cur: psycopg2.extensions.cursor,
        write: Callable[[psycopg2.extensions.cursor, q.TableName], int],
    ) -> tuple[int, int]:
        """Write a new child with ``write``, swap it in; return (rows replaced, rows written)."""
        new, final = self.child(f"_{uuid.uuid4().hex[:6]}"), self.child()
        value = sql.SQL("CAST({} AS {})").format(
            sql.Literal(self.value), sql.SQL(dict(self.columns)[self.column])
        )
        elements: list[sql.Composable] = [
            sql.SQL("{} {} NOT NULL").format(sql.Identifier(name), sql.SQL(type_name))
            for name, type_name in self.columns
        ]
        # Checked row by row as the rows arrive (no scan afterwards). The bound proves the
        # partition constraint, so ATTACH PARTITION skips its scan; the parent's check
        # constraints by name, as ATTACH requires, as the server wrote them.
        elements.append(
            sql.SQL("CONSTRAINT {} CHECK ({} = {})").format(
                sql.Identifier("luigi_ufo_partition_bound"), sql.Identifier(self.column), value
            )
        )
        elements += [
            sql.SQL("CONSTRAINT {} {}").format(sql.Identifier(name), sql.SQL(definition))
            for name, definition in _fetch(cur, _CHECKS, self.parent)
        ]
        cur.execute(
            sql.SQL("CREATE TABLE {} ({})").format(new.identifier, sql.SQL(", ").join(elements))
        )
        written = write(cur, new)
        key = [sql.Identifier(c) for (c,) in _fetch(cur, _PRIMARY_KEY, self.parent)]
        if key:  # built once over the loaded rows, not entry by entry
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    new.identifier, sql.SQL(", ").join(key)
                )
            )
        replaced = 0
        current = self._current(cur)
        if current is not None:
            count = sql.SQL("SELECT count(*) FROM {}").format(current.identifier)
            replaced = int(_fetch(cur, count)[0][0])
            cur.execute(sql.SQL("DROP TABLE {}").format(current.identifier))
        cur.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                self.parent.identifier, new.identifier, value
            )
        )
        cur.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                new.identifier, sql.Identifier(final.name)
            )
        )
        return replaced, written


def find_swap(
    cur: psycopg2.extensions.cursor, spec: q.TableSpec, values: tuple[str, ...]
) -> Swap | None:
    """Return the swap of the partition ``values`` (COPY text), or None to delete and insert."""
    if len(spec.partition) != 1:
        return None
    key = _fetch(cur, _LIST_KEY, spec.table)
    if not key or key[0][0] != spec.partition[0].name:
        return None
    columns = tuple((name, type_name) for name, type_name in _fetch(cur, _COLUMNS, spec.table))
    for name, type_name in columns:
        try:
            q.check_type(type_name, name)
        except InvalidSpecError:
            return None  # a type this module does not write into DDL: delete and insert
    return Swap(spec.table, spec.partition[0].name, values[0], columns)


def _fetch(
    cur: psycopg2.extensions.cursor, query: sql.Composable, *tables: q.TableName
) -> list[tuple[str, ...]]:
    if tables:
        cur.execute(query, tuple(t.quoted for t in tables))
    else:
        cur.execute(query)
    return [tuple(row) for row in cur.fetchall()]
