"""The exact text of the composed statements as psycopg2 sends it to the real PostgreSQL."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg2.extensions
import pytest
from psycopg2 import sql

from luigi_ufo.postgres import ConnectionSettings, connect
from luigi_ufo.postgres import sql as q
from tests.table_specs import HOSTILE, spec, statements_naming

pytestmark = pytest.mark.integration

DAY = datetime.date(2024, 1, 2)


@pytest.fixture(scope="module")
def conn(postgres_dsn: str) -> Iterator[psycopg2.extensions.connection]:
    with connect(ConnectionSettings(dsn=postgres_dsn)) as connection:
        yield connection


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


def test_statement_texts(conn: psycopg2.extensions.connection) -> None:
    s, marker = spec(table="s.t"), q.TableName("mk")
    assert q.create_table(s).as_string(conn) == (
        'CREATE TABLE IF NOT EXISTS "s"."t" ("day" date NOT NULL, "rank" integer NOT NULL, '
        '"k" text NOT NULL, "m" bigint NOT NULL, CHECK ("rank" >= 1), '
        'PRIMARY KEY ("day", "rank"))'
    )
    t = spec()
    assert q.delete_partition(t, [DAY]).as_string(conn) == (
        'DELETE FROM "t" WHERE "day" = \'2024-01-02\'::date'
    )
    assert q.delete_partition(spec(partition=()), []).as_string(conn) == 'DELETE FROM "t"'
    two = spec(partition=(q.Column("day", "date"), q.Column("region", "text")))
    assert q.delete_partition(two, [DAY, "it's"]).as_string(conn) == (
        "DELETE FROM \"t\" WHERE \"day\" = '2024-01-02'::date AND \"region\" = 'it''s'"
    )
    assert q.copy_from_stdin(t).as_string(conn) == (
        'COPY "t" ("day", "rank", "k", "m") FROM STDIN WITH (FORMAT csv)'
    )
    assert q.upsert_marker(marker, "Task(x='1')", t.table).as_string(conn) == (
        "INSERT INTO \"mk\" (update_id, target_table) VALUES ('Task(x=''1'')', '\"t\"') "
        "ON CONFLICT (update_id, target_table) DO UPDATE SET inserted = now()"
    )
    assert q.upsert_marker(marker, "u", t.table, "0123.none").as_string(conn) == (
        'INSERT INTO "mk" (update_id, target_table, "made_from") VALUES (\'u\', \'"t"\', '
        "'0123.none') ON CONFLICT (update_id, target_table) DO UPDATE SET inserted = now(), "
        '"made_from" = EXCLUDED."made_from"'
    )
    assert q.add_made_from(marker).as_string(conn) == (
        'ALTER TABLE "mk" ADD COLUMN IF NOT EXISTS "made_from" text'
    )
    assert q.select_markers(marker, ["a", "it's %s"], t.table).as_string(conn) == (
        "SELECT update_id, to_jsonb(m) ->> 'made_from' FROM \"mk\" AS m "
        "WHERE target_table = '\"t\"' AND update_id = ANY(ARRAY['a', 'it''s %s']::text[])"
    )
    assert q.select_markers(marker, [], t.table).as_string(conn).endswith("ANY(ARRAY[]::text[])")
    assert q.delete_marker(marker, "u", t.table).as_string(conn) == (
        "DELETE FROM \"mk\" WHERE update_id = 'u' AND target_table = '\"t\"'"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(7, "7"), (1.5, "1.5"), (Decimal("2.50"), "2.50"), (True, "true"), ("a'b", "'a''b'")],
)
def test_partition_literals(conn: psycopg2.extensions.connection, value: Any, text: str) -> None:
    assert sql.Literal(value).as_string(conn) == text


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_identifiers_only_appear_quoted(
    conn: psycopg2.extensions.connection, name: str
) -> None:
    for statement in statements_naming(name):
        text = statement.as_string(conn)
        assert q.quote_ident(name) in text
        rest = outside_quotes(text)
        assert not [bad for bad in (";", "DROP", "--") if bad in rest]


def test_partitioned_table_and_copy_into_a_child(conn: psycopg2.extensions.connection) -> None:
    assert q.create_partitioned_table(spec(table="s.t")).as_string(conn) == (
        'CREATE TABLE IF NOT EXISTS "s"."t" ("day" date NOT NULL, "rank" integer NOT NULL, '
        '"k" text NOT NULL, "m" bigint NOT NULL, CHECK ("rank" >= 1), '
        'PRIMARY KEY ("day", "rank")) PARTITION BY LIST ("day")'
    )
    assert q.copy_from_stdin(spec(), q.TableName("child", "s")).as_string(conn) == (
        'COPY "s"."child" ("day", "rank", "k", "m") FROM STDIN WITH (FORMAT csv)'
    )
