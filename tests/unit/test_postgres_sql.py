"""SQL composed for ordinary and hostile identifiers, inspected without a server."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from psycopg2 import sql

from luigi_ufo.errors import InvalidSpecError
from luigi_ufo.postgres import sql as q

DAY = datetime.date(2024, 1, 2)
HOSTILE = [
    't"; DROP TABLE victim; --',
    "x; DROP TABLE victim",
    "a.b",
    'say "hi"',
    "città ☃ 東京",
    "Upper Case",
    "--",
    "'quoted'",
    "100%s_%(x)s",
]


def outside_quotes(text: str) -> str:
    """Return the statement without its quoted identifiers and string literals."""
    out, i = [], 0
    while i < len(text):
        quote = text[i]
        if quote in "\"'":
            i += 1
            while True:
                end = text.index(quote, i)
                if text.startswith(quote * 2, end):
                    i = end + 2
                    continue
                i = end + 1
                break
        else:
            out.append(quote)
            i += 1
    return "".join(out)


def spec(table: Any = "t", name: str = "k", **kw: Any) -> q.TableSpec:
    defaults: dict[str, Any] = {
        "partition": (q.Column("day", "date"),),
        "group": (),
        "key": (q.Column(name, "text"),),
        "measure": q.Column("m", "bigint"),
        "rank": q.Column("rank", "integer"),
    }
    defaults.update(kw)
    return q.TableSpec(table=q.parse_table_name(table), **defaults)


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
def test_hostile_identifiers_only_appear_quoted(name: str) -> None:
    table_spec = spec(table=(name, name), name=name)
    statements = [
        q.create_schema(name),
        q.create_table(table_spec),
        q.delete_partition(table_spec, [DAY]),
        q.copy_from_stdin(table_spec),
        q.create_marker_table(q.TableName(name)),
        q.upsert_marker(q.TableName(name), "run", table_spec.table),
        q.select_marker(q.TableName(name), "run", table_spec.table),
        q.select_markers(q.TableName(name), ["run", name], table_spec.table),
        q.delete_marker(q.TableName(name), "run", table_spec.table),
    ]
    for statement in statements:
        text = q.render(statement)
        assert q.quote_ident(name) in text
        rest = outside_quotes(text)
        assert ";" not in rest
        assert "DROP" not in rest
        assert "--" not in rest


def test_create_table_text_and_primary_keys() -> None:
    stable = spec(table="s.t")
    assert q.render(q.create_table(stable)) == (
        'CREATE TABLE IF NOT EXISTS "s"."t" ("day" date NOT NULL, "rank" integer NOT NULL, '
        '"k" text NOT NULL, "m" bigint NOT NULL, CHECK ("rank" >= 1), '
        'PRIMARY KEY ("day", "rank"))'
    )
    tied = spec(ties="with_ties", group=(q.Column("g", "text"),))
    assert [c.name for c in tied.primary_key] == ["day", "g", "rank", "k"]
    assert [c.name for c in tied.columns] == ["day", "g", "rank", "k", "m"]


def test_delete_copy_and_marker_statements() -> None:
    s = spec()
    assert q.render(q.delete_partition(s, [DAY])) == (
        'DELETE FROM "t" WHERE "day" = \'2024-01-02\'::date'
    )
    assert q.render(q.delete_partition(spec(partition=()), [])) == 'DELETE FROM "t"'
    two = spec(partition=(q.Column("day", "date"), q.Column("region", "text")))
    assert q.render(q.delete_partition(two, [DAY, "it's"])) == (
        "DELETE FROM \"t\" WHERE \"day\" = '2024-01-02'::date AND \"region\" = 'it''s'"
    )
    with pytest.raises(InvalidSpecError, match=r"1 value\(s\) for the 2 partition column\(s\)"):
        q.delete_partition(two, [DAY])
    assert q.render(q.copy_from_stdin(s)) == (
        'COPY "t" ("day", "rank", "k", "m") FROM STDIN WITH (FORMAT csv)'
    )
    marker = q.TableName("mk")
    assert q.render(q.upsert_marker(marker, "Task(x='1')", s.table)) == (
        "INSERT INTO \"mk\" (update_id, target_table) VALUES ('Task(x=''1'')', '\"t\"') "
        "ON CONFLICT (update_id, target_table) DO UPDATE SET inserted = now()"
    )
    assert q.render(q.select_marker(marker, "u", s.table)) == (
        "SELECT 1 FROM \"mk\" WHERE update_id = 'u' AND target_table = '\"t\"'"
    )


def test_bulk_marker_lookup_and_delete_statements() -> None:
    marker, table = q.TableName("mk"), q.TableName("t")
    assert q.render(q.select_markers(marker, ["a", "it's %s"], table)) == (
        'SELECT update_id FROM "mk" WHERE target_table = \'"t"\' '
        "AND update_id = ANY(ARRAY['a', 'it''s %s']::text[])"
    )
    assert q.render(q.select_markers(marker, [], table)).endswith("ANY(ARRAY[]::text[])")
    assert q.render(q.delete_marker(marker, "u", table)) == (
        "DELETE FROM \"mk\" WHERE update_id = 'u' AND target_table = '\"t\"'"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (7, "7"),
        (1.5, "1.5"),
        (Decimal("2.50"), "2.50"),
        (True, "true"),
        (datetime.datetime(2024, 1, 2, 3, 4), "'2024-01-02T03:04:00'::timestamp"),
        ("a'b", "'a''b'"),
    ],
)
def test_render_literals(value: Any, text: str) -> None:
    assert q.render(sql.Literal(value)) == text


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


def test_render_refuses_unknown_literals() -> None:
    with pytest.raises(TypeError, match=r"cannot render literal \[1\]"):
        q.render(sql.Literal([1]))
