"""Top-N loads against the harness's real PostgreSQL: atomicity, reruns, concurrency, safety."""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from luigi_ufo.errors import InvalidSpecError, LoadError
from luigi_ufo.postgres import (
    ConnectionSettings,
    LoadSpec,
    PostgresMarkerTarget,
    Ranked,
    Record,
    connect,
    load,
    top_n,
    transaction,
)
from luigi_ufo.postgres import sql as q
from luigi_ufo.postgres.load import partition_lock_key
from tests.topn_tables import contents, execute, expected, fetch, marker_exists, ranked, spec_for

pytestmark = pytest.mark.integration

DAY1 = datetime.date(2024, 1, 1)
DAY2 = datetime.date(2024, 1, 2)


@pytest.fixture
def settings(postgres_dsn: str) -> ConnectionSettings:
    return ConnectionSettings(dsn=postgres_dsn, application_name=f"topn-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def table() -> str:
    return f"topn_{uuid.uuid4().hex[:12]}"


def test_load_creates_typed_table_with_primary_key_and_marker(
    settings: ConnectionSettings, table: str
) -> None:
    spec = spec_for(table, DAY1)
    rows = ranked(5)
    result = load(spec, rows, settings=settings)
    assert (result.rows, result.replaced) == (5, 0)
    assert contents(settings, table) == expected(DAY1, rows)
    columns = fetch(
        settings,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    assert columns == [
        ("day", "date", "NO"),
        ("rank", "integer", "NO"),
        ("k", "text", "NO"),
        ("m", "bigint", "NO"),
    ]
    pkey = fetch(
        settings,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
        "ORDER BY array_position(i.indkey, a.attnum)",
        (f'"{table}"',),
    )
    assert [r[0] for r in pkey] == ["day", "rank"]
    assert marker_exists(settings, spec)
    assert not marker_exists(settings, spec_for(table, DAY1, run="other"))


def test_rerun_replaces_exactly_that_partition(settings: ConnectionSettings, table: str) -> None:
    load(spec_for(table, DAY1), ranked(5), settings=settings)
    load(spec_for(table, DAY2), ranked(4, offset=100), settings=settings)
    again = ranked(3, offset=50)
    result = load(spec_for(table, DAY1, run="b"), again, settings=settings)
    assert (result.rows, result.replaced) == (3, 5)
    assert contents(settings, table) == expected(DAY1, again) + expected(
        DAY2, ranked(4, offset=100)
    )
    # Same run id again: the marker is upserted, not duplicated.
    load(spec_for(table, DAY1, run="b"), again, settings=settings)
    assert contents(settings, table)[:3] == expected(DAY1, again)
    markers = fetch(
        settings,
        "SELECT count(*) FROM luigi_ufo_markers WHERE target_table = %s",
        (f'"{table}"',),
    )
    assert markers == [(3,)]


def test_with_ties_table_allows_shared_ranks(settings: ConnectionSettings, table: str) -> None:
    records = [Record((), (k,), m) for k, m in [("a", 3), ("b", 3), ("c", 1), ("d", 1)]]
    rows = top_n(records, 3, "with_ties")
    load(spec_for(table, DAY1, ties="with_ties"), rows, settings=settings)
    assert [(r[1], r[2]) for r in contents(settings, table)] == [
        (1, "a"),
        (1, "b"),
        (3, "c"),
        (3, "d"),
    ]


_CHILD = """
import datetime, sys, time
from luigi_ufo.postgres import ConnectionSettings, LoadSpec, Record, load, top_n
dsn, table, day, offset, start = sys.argv[1:]
spec = LoadSpec.build(table=table, rank_by="m", key_columns=["k"], update_id=table + day,
                      partition={"day": datetime.date.fromisoformat(day)},
                      column_types={"m": "bigint"})
rows = top_n([Record((), ("k%06d" % i,), i + int(offset)) for i in range(20000)], 20000)
time.sleep(max(0.0, float(start) - time.time()))  # both children start loading together
print(load(spec, rows, settings=ConnectionSettings(dsn=dsn)).rows)
"""


def run_children(dsn: str, table: str, jobs: list[tuple[str, int]]) -> None:
    start = str(time.time() + 3.0)  # after both interpreters have imported and built rows
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, dsn, table, day, str(offset), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day, offset in jobs
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "20000"


def test_concurrent_loads_of_two_partitions_from_two_processes(
    postgres_dsn: str, settings: ConnectionSettings, table: str
) -> None:
    # Both start on a table that does not exist yet: creation must not race either.
    run_children(postgres_dsn, table, [("2024-01-01", 0), ("2024-01-02", 7)])
    rows = fetch(
        settings,
        q.sql.SQL("SELECT day, count(*), min(m), max(m) FROM {} GROUP BY day ORDER BY day").format(
            q.sql.Identifier(table)
        ),
    )
    assert rows == [(DAY1, 20000, 0, 19999), (DAY2, 20000, 7, 20006)]


def test_concurrent_loads_of_the_same_partition_leave_one_result(
    postgres_dsn: str, settings: ConnectionSettings, table: str
) -> None:
    # The table exists first (creation serializes loads by itself); both replace its rows.
    load(spec_for(table, DAY1), ranked(5, offset=100), settings=settings)
    run_children(postgres_dsn, table, [("2024-01-01", 0), ("2024-01-01", 7)])
    rows = fetch(
        settings,
        q.sql.SQL("SELECT count(*), min(m), count(DISTINCT k) FROM {}").format(
            q.sql.Identifier(table)
        ),
    )
    assert rows in ([(20000, 0, 20000)], [(20000, 7, 20000)])


def test_partition_lock_blocks_only_the_same_partition(
    settings: ConnectionSettings, table: str
) -> None:
    load(spec_for(table, DAY1), ranked(2), settings=settings)
    same, other = spec_for(table, DAY1, run="b"), spec_for(table, DAY2)
    done: dict[str, float] = {}

    def run(name: str, spec: LoadSpec) -> None:
        load(spec, ranked(3), settings=settings)
        done[name] = time.monotonic()

    with connect(settings) as holder, transaction(holder) as cur:
        cur.execute(q.ADVISORY_XACT_LOCK, (partition_lock_key(same),))
        threads = [
            threading.Thread(target=run, args=("same", same)),
            threading.Thread(target=run, args=("other", other)),
        ]
        for thread in threads:
            thread.start()
        threads[1].join(timeout=30)
        assert "other" in done
        time.sleep(0.5)
        assert "same" not in done
        released = time.monotonic()
    threads[0].join(timeout=30)
    assert done["same"] >= released
    assert len(contents(settings, table)) == 6


def test_failure_mid_copy_rolls_back_and_rerun_succeeds(
    settings: ConnectionSettings, table: str
) -> None:
    types = {"m": "integer"}
    old = ranked(10)
    load(spec_for(table, DAY1, column_types=types), old, settings=settings)
    # 5000 good rows, then one whose measure overflows integer: COPY fails at line 5001.
    records = [Record((), (f"k{i:06d}",), i) for i in range(5000)]
    records.append(Record((), ("bad",), -(2**40)))
    bad = spec_for(table, DAY1, run="bad", column_types=types)
    with pytest.raises(LoadError, match=r"out of range for type integer.*line 5001") as info:
        load(bad, top_n(records, 6000), settings=settings)
    assert "rolled back" in str(info.value)
    assert contents(settings, table) == expected(DAY1, old)
    assert not marker_exists(settings, bad)
    good = ranked(5000, offset=3)
    load(spec_for(table, DAY1, run="bad", column_types=types), good, settings=settings)
    assert contents(settings, table) == expected(DAY1, good)


def test_failed_first_load_leaves_no_table(settings: ConnectionSettings, table: str) -> None:
    rows = [Ranked((), ("toolong",), 1, 1)]
    with pytest.raises(LoadError, match=r"value too long for type character varying\(2\)"):
        load(spec_for(table, DAY1, column_types={"k": "varchar(2)"}), rows, settings=settings)
    assert fetch(settings, q.TABLE_EXISTS, (f'"{table}"',)) == [(False,)]


def test_terminated_backend_mid_copy_rolls_back_and_rerun_succeeds(
    settings: ConnectionSettings, table: str
) -> None:
    old = ranked(10)
    load(spec_for(table, DAY1), old, settings=settings)
    killed: list[bool] = []

    def rows_then_kill() -> Iterator[Ranked]:
        for i, row in enumerate(ranked(60000, offset=1)):
            if i == 20000:
                # The loader's backend is in the middle of COPY now; kill it from outside.
                found = fetch(
                    settings,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND pid <> pg_backend_pid() "
                    "AND query LIKE 'COPY%%'",
                    (settings.application_name,),
                )
                killed.append(found == [(True,)])
                time.sleep(0.2)
            yield row

    spec = spec_for(table, DAY1, run="killed")
    with pytest.raises(LoadError, match=r"rolled back"):
        load(spec, rows_then_kill(), settings=settings)
    assert killed == [True]
    assert contents(settings, table) == expected(DAY1, old)
    assert not marker_exists(settings, spec)
    good = ranked(7, offset=9)
    load(spec, good, settings=settings)
    assert contents(settings, table) == expected(DAY1, good)
    assert marker_exists(settings, spec)


HOSTILE_TABLE = ('s"; DROP TABLE victim; --', 'Top.States "☃" 100%s %(x)s; DROP TABLE v --')
HOSTILE_COLUMNS = {"key": 'k"); DROP TABLE victim; --', "measure": "città.m 50%", "day": "Day Of"}


def test_hostile_identifiers_are_stored_verbatim(settings: ConnectionSettings) -> None:
    victim = f"victim_{uuid.uuid4().hex[:8]}"
    execute(settings, q.sql.SQL("CREATE TABLE {} (x int)").format(q.sql.Identifier(victim)))
    spec = LoadSpec.build(
        table=HOSTILE_TABLE,
        rank_by=HOSTILE_COLUMNS["measure"],
        key_columns=[HOSTILE_COLUMNS["key"]],
        update_id=f"hostile-{victim}",
        partition={HOSTILE_COLUMNS["day"]: DAY1},
        rank_column="Rank; --",
        marker_table=(HOSTILE_TABLE[0], "markers; DROP TABLE victim"),
    )
    rows = [Ranked((), ('a"b,c\n\\.\nd',), 2, 1), Ranked((), ("☃'; --",), 1, 2)]
    load(spec, rows, settings=settings)
    assert fetch(settings, q.TABLE_EXISTS, (victim,)) == [(True,)]
    names = fetch(
        settings,
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 2",
        (HOSTILE_TABLE[0],),
    )
    assert names == [
        (HOSTILE_TABLE[0], HOSTILE_TABLE[1]),
        (HOSTILE_TABLE[0], "markers; DROP TABLE victim"),
    ]
    assert contents(settings, HOSTILE_TABLE) == [
        (DAY1, 1, 'a"b,c\n\\.\nd', 2),
        (DAY1, 2, "☃'; --", 1),
    ]
    target = PostgresMarkerTarget(
        table=HOSTILE_TABLE,
        update_id=spec.update_id,
        marker_table=spec.marker_table,
        settings=settings,
    )
    assert target.exists()
    target.remove()
    assert not target.exists()


def test_existing_table_with_other_columns_is_refused(
    settings: ConnectionSettings, table: str
) -> None:
    execute(settings, q.sql.SQL("CREATE TABLE {} (a int)").format(q.sql.Identifier(table)))
    with pytest.raises(InvalidSpecError, match=r"exists with columns \['a'\] but this load writes"):
        load(spec_for(table, DAY1), ranked(1), settings=settings)


def backends(settings: ConnectionSettings) -> int:
    """Count backends opened under this test's application name, other than the counting one."""
    rows = fetch(
        settings,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
        "AND pid <> pg_backend_pid()",
        (settings.application_name,),
    )
    return int(rows[0][0])


def test_marker_target_checks_the_table_and_leaks_no_connection(
    settings: ConnectionSettings, table: str
) -> None:
    spec = spec_for(table, DAY1)
    target = PostgresMarkerTarget(table=table, update_id=spec.update_id, settings=settings)
    assert not target.exists()
    load(spec, ranked(2), settings=settings)
    assert target.exists()
    for _ in range(20):
        assert target.exists()
    # A backend exits shortly after its client closes; allow it a moment.
    deadline = time.monotonic() + 5
    while backends(settings) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends(settings) == 0
    execute(settings, q.sql.SQL("DROP TABLE {}").format(q.sql.Identifier(table)))
    # The marker row is still there, but the table is gone: the run must happen again.
    assert not target.exists()


def test_marker_target_without_marker_table(settings: ConnectionSettings) -> None:
    target = PostgresMarkerTarget(
        table="t", update_id="x", marker_table=f"none_{uuid.uuid4().hex[:8]}", settings=settings
    )
    assert not target.exists()


def test_terminated_backend_says_the_connection_was_lost_and_what_to_do(
    settings: ConnectionSettings, table: str
) -> None:
    # libpq's own text for this is "invalid socket" or "server closed the connection
    # unexpectedly"; the error must say what happened and the fix.
    with connect(settings) as conn:
        pid = conn.get_backend_pid()

        def rows_then_kill() -> Iterator[Ranked]:
            for i, row in enumerate(ranked(60000)):
                if i == 20000:
                    found = fetch(settings, "SELECT pg_terminate_backend(%s)", (pid,))
                    assert found == [(True,)]
                    while fetch(settings, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)):
                        time.sleep(0.05)  # gone from the server: the next write cannot succeed
                yield row

        spec = spec_for(table, DAY1)
        with pytest.raises(LoadError) as info:
            load(spec, rows_then_kill(), connection=conn)
    message = str(info.value)
    assert "the connection to the server was lost during the load" in message
    assert "pg_terminate_backend" in message
    assert "nothing was committed: check the server and rerun" in message
    assert not marker_exists(settings, spec)
