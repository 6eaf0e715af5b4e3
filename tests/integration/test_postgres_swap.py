"""Partitioned tables: a load swaps the partition's child table; old or new rows, never a mix."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2.errors
import pytest

from luigi_ufo.errors import LoadError
from luigi_ufo.postgres import (
    ConnectionSettings,
    LoadSpec,
    Ranked,
    connect,
    load,
    transaction,
)
from luigi_ufo.postgres import sql as q
from luigi_ufo.postgres.swap import Swap
from tests import topn_tables
from tests.topn_tables import contents, expected, fetch, marker_exists, ranked

pytestmark = pytest.mark.integration

DAY1 = datetime.date(2024, 2, 1)
DAY2 = datetime.date(2024, 2, 2)


@pytest.fixture
def settings(postgres_dsn: str) -> ConnectionSettings:
    return ConnectionSettings(dsn=postgres_dsn, application_name=f"swap-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def table() -> str:
    return f"swap_{uuid.uuid4().hex[:12]}"


def spec_for(table: str, day: datetime.date, run: str = "a", **kw: Any) -> LoadSpec:
    return topn_tables.spec_for(table, day, run, **{"partitioned": True, **kw})


def children(settings: ConnectionSettings, table: str) -> list[tuple[str, str]]:
    """Return (child, bound) of every partition, and any table left over by a load."""
    return fetch(
        settings,
        "SELECT c.relname, coalesce(pg_get_expr(c.relpartbound, c.oid), 'detached') "
        "FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE %s ORDER BY 1",
        (f"{table}\\_%",),
    )


def test_rerun_swaps_the_child_and_leaves_other_partitions(
    settings: ConnectionSettings, table: str
) -> None:
    first = load(spec_for(table, DAY1), ranked(5), settings=settings)
    load(spec_for(table, DAY2), ranked(3, offset=50), settings=settings)
    assert fetch(settings, "SELECT relkind FROM pg_class WHERE oid = %s::regclass", (table,)) == [
        ("p",)
    ]
    assert fetch(
        settings,
        "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = %s::regclass",
        (table,),
    ) == [("l",)]
    again = load(spec_for(table, DAY1, run="b"), ranked(2, offset=9), settings=settings)
    assert (first.replaced, first.rows, again.replaced, again.rows) == (0, 5, 5, 2)
    assert contents(settings, table) == expected(DAY1, ranked(2, offset=9)) + expected(
        DAY2, ranked(3, offset=50)
    )
    # One child per value, each attached, no dead tuples: the old child was dropped whole.
    bounds = sorted(bound for _, bound in children(settings, table))
    assert bounds == [
        "FOR VALUES IN ('2024-02-01')",
        "FOR VALUES IN ('2024-02-02')",
    ]
    # The primary key holds on the partitioned table.
    with (
        pytest.raises(psycopg2.errors.UniqueViolation),
        connect(settings) as conn,
        transaction(conn) as cur,
    ):
        cur.execute(
            q.sql.SQL("INSERT INTO {} VALUES (%s, 1, 'x', 1)").format(q.sql.Identifier(table)),
            (DAY1,),
        )


def test_partition_values_that_need_quoting(settings: ConnectionSettings, table: str) -> None:
    source = 'it\'s a,"b"\n%s'
    spec = spec_for(table, DAY1, partition={"source": source}, update_id="u1")
    load(spec, ranked(3), settings=settings)
    load(spec, ranked(2, offset=4), settings=settings)
    assert contents(settings, table) == [
        (source, r.rank, r.key[0], r.measure) for r in ranked(2, 4)
    ]
    assert len(children(settings, table)) == 1


def test_existing_plain_table_keeps_deleting(settings: ConnectionSettings, table: str) -> None:
    load(spec_for(table, DAY1, partitioned=False), ranked(4), settings=settings)
    load(spec_for(table, DAY1, run="b"), ranked(2, offset=1), settings=settings)
    assert fetch(settings, "SELECT relkind FROM pg_class WHERE oid = %s::regclass", (table,)) == [
        ("r",)
    ]
    assert contents(settings, table) == expected(DAY1, ranked(2, offset=1))


def test_long_table_names_give_short_child_names() -> None:
    swap = Swap(q.TableName("é" * 31, schema="s"), "day", "2024-01-01", ())
    for name in (swap.child(), swap.child("_abcdef")):
        assert len(name.name.encode("utf-8")) <= q.MAX_IDENTIFIER_BYTES
        q.check_identifier(name.name)
    assert swap.child() != Swap(swap.parent, "day", "2024-01-02", ()).child()


def partitions_of(settings: ConnectionSettings, table: str) -> list[tuple[str, str]]:
    """Return (child, bound) of every partition attached to ``table``, by pg_inherits."""
    return fetch(
        settings,
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass ORDER BY 1",
        (q.TableName(table).quoted,),
    )


def test_tables_sharing_their_first_38_bytes_keep_their_own_children(
    settings: ConnectionSettings,
) -> None:
    stem = f"swap_{uuid.uuid4().hex[:12]}_{'x' * 30}"
    first, second = f"{stem}_first", f"{stem}_second"
    assert first.encode()[:38] == second.encode()[:38]
    load(spec_for(first, DAY1), ranked(4), settings=settings)
    load(spec_for(second, DAY1), ranked(2, offset=7), settings=settings)
    load(spec_for(first, DAY1, run="b"), ranked(3, offset=20), settings=settings)
    assert contents(settings, first) == expected(DAY1, ranked(3, offset=20))
    assert contents(settings, second) == expected(DAY1, ranked(2, offset=7))
    (first_child,) = partitions_of(settings, first)
    (second_child,) = partitions_of(settings, second)
    assert first_child[0] != second_child[0]


def test_a_child_named_by_an_earlier_version_is_replaced_and_renamed(
    settings: ConnectionSettings, table: str
) -> None:
    load(spec_for(table, DAY1), ranked(5), settings=settings)
    load(spec_for(table, DAY2), ranked(2, offset=40), settings=settings)
    # Earlier versions named a child by the parent's prefix and a hash of column and value only.
    digest = hashlib.sha256(b"day\x1f2024-02-01").hexdigest()[:16]
    legacy = f"{table}_p{digest}"
    (current,) = [c for c, bound in partitions_of(settings, table) if "2024-02-01" in bound]
    with connect(settings) as conn, transaction(conn) as cur:
        cur.execute(
            q.sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                q.sql.Identifier(current), q.sql.Identifier(legacy)
            )
        )
    again = load(spec_for(table, DAY1, run="b"), ranked(3, offset=9), settings=settings)
    assert (again.replaced, again.rows) == (5, 3)
    assert contents(settings, table) == expected(DAY1, ranked(3, offset=9)) + expected(
        DAY2, ranked(2, offset=40)
    )
    names = [c for c, _ in partitions_of(settings, table)]
    assert current in names
    assert legacy not in names
    assert len(names) == 2


def test_terminated_mid_copy_leaves_the_old_rows_and_marker(
    settings: ConnectionSettings, table: str
) -> None:
    old = spec_for(table, DAY1)
    load(old, ranked(10), settings=settings)
    killed: list[bool] = []

    def rows_then_kill() -> Iterator[Ranked]:
        for i, row in enumerate(ranked(60000, offset=1)):
            if i == 20000:
                killed.append(terminate(settings, "COPY%%"))
                time.sleep(0.2)
            yield row

    new = spec_for(table, DAY1, run="killed")
    with pytest.raises(LoadError, match="rolled back"):
        load(new, rows_then_kill(), settings=settings)
    assert killed == [True]
    assert contents(settings, table) == expected(DAY1, ranked(10))
    assert marker_exists(settings, old)
    assert not marker_exists(settings, new)
    assert len(children(settings, table)) == 1  # the new child went with the rollback
    load(new, ranked(7, offset=9), settings=settings)
    assert contents(settings, table) == expected(DAY1, ranked(7, offset=9))


def terminate(settings: ConnectionSettings, query_like: str) -> bool:
    found = fetch(
        settings,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid() AND query LIKE %s",
        (settings.application_name, query_like),
    )
    return found == [(True,)]


def test_killed_at_the_swap_leaves_the_old_rows_while_readers_read_on(
    settings: ConnectionSettings, table: str
) -> None:
    old = spec_for(table, DAY1)
    load(old, ranked(10), settings=settings)
    new = spec_for(table, DAY1, run="new")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            load(new, ranked(3, offset=5), settings=settings)
        except BaseException as exc:
            errors.append(exc)

    reader_settings = ConnectionSettings(dsn=settings.dsn, application_name="swap-reader")
    with connect(reader_settings) as reader, transaction(reader) as cur:
        # An open reader holds the parent: the load waits at DROP of the old child.
        cur.execute(q.sql.SQL("SELECT count(*) FROM {}").format(q.sql.Identifier(table)))
        assert cur.fetchone() == (10,)
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        while not waiting_at_drop(settings) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting_at_drop(settings), "the load never reached the swap"
        # The new child is loaded, the old one still in place: kill the load right there.
        assert terminate(settings, "DROP TABLE%%")
    thread.join(timeout=60)
    assert len(errors) == 1
    assert isinstance(errors[0], LoadError)
    assert contents(settings, table) == expected(DAY1, ranked(10))
    assert marker_exists(settings, old)
    assert not marker_exists(settings, new)
    assert len(children(settings, table)) == 1
    load(new, ranked(3, offset=5), settings=settings)
    assert contents(settings, table) == expected(DAY1, ranked(3, offset=5))
    assert marker_exists(settings, new)


def waiting_at_drop(settings: ConnectionSettings) -> bool:
    return bool(
        fetch(
            settings,
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock' AND query LIKE 'DROP TABLE%%'",
            (settings.application_name,),
        )
    )


_CHILD = """
import datetime, sys, time
from luigi_ufo.postgres import ConnectionSettings, LoadSpec, Record, load, top_n
dsn, table, day, offset, start = sys.argv[1:]
spec = LoadSpec.build(table=table, rank_by="m", key_columns=["k"], update_id=table + day,
                      partition={"day": datetime.date.fromisoformat(day)},
                      column_types={"m": "bigint"}, partitioned=True)
rows = top_n([Record((), ("k%06d" % i,), i + int(offset)) for i in range(20000)], 20000)
time.sleep(max(0.0, float(start) - time.time()))  # the children start loading together
print(load(spec, rows, settings=ConnectionSettings(dsn=dsn)).rows)
"""


@pytest.mark.parametrize("days", [("2024-02-01", "2024-02-02"), ("2024-02-01", "2024-02-01")])
def test_concurrent_loads_from_processes(
    postgres_dsn: str, settings: ConnectionSettings, table: str, days: tuple[str, str]
) -> None:
    load(spec_for(table, DAY1), ranked(5, offset=100), settings=settings)
    start = str(time.time() + 3.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, postgres_dsn, table, day, str(offset), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent,
        )
        for day, offset in zip(days, (0, 7), strict=True)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert out.strip() == "20000"
    rows = fetch(
        settings,
        q.sql.SQL("SELECT day, count(*), min(m) FROM {} GROUP BY day ORDER BY day").format(
            q.sql.Identifier(table)
        ),
    )
    if days[0] == days[1]:
        assert rows in ([(DAY1, 20000, 0)], [(DAY1, 20000, 7)])
    else:
        assert rows == [(DAY1, 20000, 0), (DAY2, 20000, 7)]
    assert len(children(settings, table)) == len(set(days))


def test_hostile_names_in_a_partitioned_table(settings: ConnectionSettings) -> None:
    table = (f's"; DROP {uuid.uuid4().hex[:6]}; --', 'Top.States "☃" 100%s %(x)s; DROP TABLE v --')
    spec = LoadSpec.build(
        table=table,
        rank_by="città.m 50%",
        key_columns=['k"); DROP TABLE victim; --'],
        update_id="hostile",
        partition={"Day Of": DAY1},
        rank_column="Rank; --",
        partitioned=True,
    )
    load(spec, ranked(3), settings=settings)
    load(spec, ranked(2, offset=5), settings=settings)
    name = q.TableName(table[1], schema=table[0])
    stmt = q.sql.SQL("SELECT * FROM {} ORDER BY 2").format(name.identifier)
    assert fetch(settings, stmt) == expected(DAY1, ranked(2, offset=5))
    children = fetch(
        settings,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass",
        (name.quoted,),
    )
    assert children == [(1,)]
