"""SQL composed for ordinary and hostile identifiers, inspected without a server.

The exact text psycopg2 sends is checked against the real server in
tests/integration/test_postgres_sql_text.py.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from psycopg2 import sql

from luigi_ufo.errors import InvalidSpecError
from luigi_ufo.postgres import sql as q
from tests.table_specs import HOSTILE, spec, statements_naming

DAY = datetime.date(2024, 1, 2)


def pieces(composable: sql.Composable) -> list[sql.Composable]:
    """Return the leaves of a composed statement: SQL text, identifiers and literals."""
    if isinstance(composable, sql.Composed):
        return [leaf for part in composable.seq for leaf in pieces(part)]
    return [composable]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("t", ("t",)),
        ("s.t", ("s", "t")),
        ("Public.TopStates", ("Public", "TopStates")),
        ('"a.b"', ("a.b",)),
        ('x."q""t"', ("x", 'q"t')),
        ('"s.1"."t.2"', ("s.1", "t.2")),
        ('"t; DROP TABLE x --"', ("t; DROP TABLE x --",)),
        ("t; DROP TABLE x --", ("t; DROP TABLE x --",)),
        ("città", ("città",)),
        (("a.b",), ("a.b",)),
        (("s", "t.x"), ("s", "t.x")),
    ],
)
def test_parse_table_name(text: Any, parts: tuple[str, ...]) -> None:
    assert q.parse_table_name(text).parts == parts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"table name is empty"),
        ("a.b.c", r"has 3 parts"),
        ('"open', r"unterminated quoted part"),
        ('a"b', r"unexpected '\"' at offset 1"),
        ('"a"b', r"unexpected 'b' at offset 3"),
        (" t", r"surrounding spaces"),
        ("s.", r"table name must be a non-empty string, got ''"),
        (".t", r"schema name must be a non-empty string, got ''"),
        ("x" * 64, r"is 64 bytes long; PostgreSQL would truncate it to 63"),
        ("é" * 32, r"is 64 bytes long"),
        ("a\x00b", r"contains a NUL character"),
        (("a", "b", "c"), r"has 3 parts"),
        (42, r"table must be a string or a \(schema, table\) tuple, got 42"),
    ],
)
def test_parse_table_name_refuses(text: Any, message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        q.parse_table_name(text)


def test_63_byte_names_are_accepted() -> None:
    assert q.parse_table_name("x" * 63).name == "x" * 63


def test_quoted_form_round_trips_through_the_parser() -> None:
    for name in HOSTILE:
        table = q.TableName(name, schema=name)
        assert q.parse_table_name(table.quoted) == table


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_identifiers_are_only_identifiers_or_literals(name: str) -> None:
    for statement in statements_naming(name):
        leaves = pieces(statement)
        text = " ".join(leaf.string for leaf in leaves if isinstance(leaf, sql.SQL))
        assert name not in text
        assert not [bad for bad in (";", "--", "DROP") if bad in text]
        assert any(isinstance(leaf, sql.Identifier) and name in leaf.strings for leaf in leaves)
        assert all(isinstance(leaf, sql.SQL | sql.Identifier | sql.Literal) for leaf in leaves)


def test_primary_keys_and_column_order() -> None:
    assert [c.name for c in spec(table="s.t").primary_key] == ["day", "rank"]
    tied = spec(ties="with_ties", group=(q.Column("g", "text"),))
    assert [c.name for c in tied.primary_key] == ["day", "g", "rank", "k"]
    assert [c.name for c in tied.columns] == ["day", "g", "rank", "k", "m"]


def test_delete_partition_needs_one_value_per_column() -> None:
    two = spec(partition=(q.Column("day", "date"), q.Column("region", "text")))
    with pytest.raises(InvalidSpecError, match=r"1 value\(s\) for the 2 partition column\(s\)"):
        q.delete_partition(two, [DAY])


def test_identifiers_carry_the_exact_strings() -> None:
    name = 't"; DROP TABLE victim; --'
    ident = q.TableName(name, schema="a.b").identifier
    assert isinstance(ident, sql.Identifier)
    assert ident.strings == ("a.b", name)


@pytest.mark.parametrize(
    "type_name",
    [
        "bigint",
        "text",
        "varchar(2)",
        "numeric(12, 2)",
        "numeric(12,2)",
        "double precision",
        "timestamp(3) with time zone",
        "DATE",
    ],
)
def test_plain_types_are_accepted(type_name: str) -> None:
    assert q.Column("c", type_name).type == type_name


@pytest.mark.parametrize(
    "type_name",
    [
        "text); DROP TABLE victim; --",
        "text NOT NULL DEFAULT 'x'",
        'text COLLATE "C"',
        "int[]",
        "",
        " int",
        "varchar(2",
        "int -- c",
        None,
    ],
)
def test_other_types_are_refused(type_name: Any) -> None:
    with pytest.raises(InvalidSpecError, match=r"is not a plain SQL type name"):
        q.Column("c", type_name)


def test_duplicate_column_names_are_refused() -> None:
    with pytest.raises(InvalidSpecError, match=r"column name\(s\) \['rank'\] used twice"):
        spec(name="rank")


def test_a_key_column_is_required() -> None:
    with pytest.raises(InvalidSpecError, match=r"needs at least one key column"):
        spec(key=())


def test_a_partitioned_table_takes_exactly_one_partition_column() -> None:
    with pytest.raises(InvalidSpecError, match="2 partition columns"):
        q.create_partitioned_table(
            spec(partition=(q.Column("day", "date"), q.Column("src", "text")))
        )
    with pytest.raises(InvalidSpecError, match="0 partition columns"):
        q.create_partitioned_table(spec(partition=()))
