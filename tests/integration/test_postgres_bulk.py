"""RangeDaily over a PostgresTopNTask: one connection answers every date; markers removable.

A subclass that also writes a dated partition is complete for a date only when both outputs
are, still from one connection and one listing of the lake.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import luigi
import pytest
from luigi.tools.range import RangeDaily

from luigi_ufo.dated import DatedTarget
from luigi_ufo.postgres import (
    ConnectionSettings,
    PostgresMarkerTarget,
    PostgresTopNTask,
    connect,
    transaction,
)
from luigi_ufo.postgres import sql as q
from tests.listings import count_listings

pytestmark = pytest.mark.integration

START = datetime.date(2024, 5, 1)
DAYS = [START + datetime.timedelta(days=i) for i in range(20)]
LOADED = DAYS[::3]  # 7 dates loaded beforehand, 13 missing

#: One entry per connection opened through CountingSettings.
CONNECTIONS: list[str] = []


class CountingSettings(ConnectionSettings):
    """Real settings that record each connection: ``connect()`` calls ``params()`` once."""

    def params(self) -> dict[str, str]:
        CONNECTIONS.append(self.application_name)
        return super().params()


class DailyTop(PostgresTopNTask):
    date = luigi.DateParameter()
    dsn = luigi.Parameter(significant=False)
    table = luigi.Parameter()
    date_param_name: ClassVar[str | None] = "date"
    n = 2
    rank_by = "n"
    key_columns = ("k",)

    def rows(self) -> Iterable[Mapping[str, Any]]:
        return [{"k": "a", "n": self.date.day}, {"k": "b", "n": 40}, {"k": "c", "n": 0}]

    def connection_settings(self) -> ConnectionSettings:
        return CountingSettings(dsn=self.dsn)


def _range(dsn: str, table: str) -> RangeDaily:
    stop = DAYS[-1] + datetime.timedelta(days=1)
    return RangeDaily(
        of=DailyTop,
        of_params={"dsn": dsn, "table": table},
        start=DAYS[0],
        stop=stop,
        now=calendar.timegm(stop.timetuple()),  # so days_back covers the whole range
        param_name="date",
    )


def _count_rows(dsn: str, table: str) -> int:
    stmt = q.sql.SQL("SELECT count(*) FROM {}").format(q.sql.Identifier(table))
    with connect(ConnectionSettings(dsn=dsn)) as conn, transaction(conn) as cur:
        cur.execute(stmt)
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def test_range_daily_schedules_exactly_the_missing_dates_from_one_connection(
    postgres_dsn: str,
) -> None:
    table = f"daily_top_{uuid.uuid4().hex[:8]}"
    for day in LOADED:
        DailyTop(date=day, dsn=postgres_dsn, table=table).run()
    missing = sorted(set(DAYS) - set(LOADED))
    # A marker of a missing date's run id, but for another table, must not count.
    decoy = DailyTop(date=missing[0], dsn=postgres_dsn, table=table).update_id()
    marker = q.parse_table_name("luigi_ufo_markers")
    with connect(ConnectionSettings(dsn=postgres_dsn)) as conn, transaction(conn) as cur:
        cur.execute(q.upsert_marker(marker, decoy, q.parse_table_name(table + "_other")))

    CONNECTIONS.clear()
    required = _range(postgres_dsn, table).requires()
    assert sorted(task.date for task in required) == missing
    assert len(CONNECTIONS) == 1  # a per-date check would open 20

    assert luigi.build([_range(postgres_dsn, table)], local_scheduler=True, log_level="WARNING")
    assert _count_rows(postgres_dsn, table) == 2 * len(DAYS)
    factory = functools.partial(DailyTop, dsn=postgres_dsn, table=table)
    CONNECTIONS.clear()
    assert DailyTop.bulk_complete.__func__(factory, DAYS) == DAYS  # type: ignore[attr-defined]
    assert len(CONNECTIONS) == 1
    as_dicts = [{"date": d, "dsn": postgres_dsn, "table": table} for d in DAYS[:2]]
    assert DailyTop.bulk_complete(as_dicts) == as_dicts


def test_bulk_complete_without_marker_table_or_with_dropped_table(postgres_dsn: str) -> None:
    table = f"daily_top_{uuid.uuid4().hex[:8]}"

    class Elsewhere(DailyTop):
        marker_table = f"markers_{uuid.uuid4().hex[:8]}"

    factory = functools.partial(Elsewhere, dsn=postgres_dsn, table=table)
    bulk = Elsewhere.bulk_complete.__func__  # type: ignore[attr-defined]
    assert bulk(factory, DAYS[:3]) == []
    factory(date=DAYS[0]).run()
    assert bulk(factory, DAYS[:3]) == [DAYS[0]]
    with connect(ConnectionSettings(dsn=postgres_dsn)) as conn, transaction(conn) as cur:
        cur.execute(q.sql.SQL("DROP TABLE {}").format(q.sql.Identifier(table)))
    assert bulk(factory, DAYS[:3]) == []  # marker row still there, table gone


def test_marker_remove_makes_one_run_due_again(postgres_dsn: str) -> None:
    table = f"daily_top_{uuid.uuid4().hex[:8]}"
    first, second = (DailyTop(date=d, dsn=postgres_dsn, table=table) for d in DAYS[:2])
    first.run()
    second.run()
    target = first.output()
    target.remove()
    assert not target.exists()
    assert second.output().exists()
    assert _count_rows(postgres_dsn, table) == 4  # rows stay until the next run replaces them
    target.remove()  # no marker row: no error
    first.run()
    assert target.exists()
    assert _count_rows(postgres_dsn, table) == 4

    class Elsewhere(DailyTop):
        marker_table = f"markers_{uuid.uuid4().hex[:8]}"

    # No marker table at all: nothing to remove, no error, and no table created.
    Elsewhere(date=DAYS[0], dsn=postgres_dsn, table=table).output().remove()
    with connect(ConnectionSettings(dsn=postgres_dsn)) as conn, transaction(conn) as cur:
        cur.execute(q.TABLE_EXISTS, (q.quote_ident(Elsewhere.marker_table),))
        assert cur.fetchone() == (False,)


class LoadAndKeep(DailyTop):
    """Loads the top rows and keeps a dated partition: two kinds of output, both must exist."""

    lake = luigi.Parameter()

    def output(self) -> list[luigi.Target]:  # type: ignore[override]
        return [super().output(), DatedTarget(self.lake, self.date)]

    def run(self) -> None:
        super().run()
        with DatedTarget(self.lake, self.date).writer() as out:
            out.write_text("part-00000.csv", "k,n\n")


def test_a_task_with_a_dated_and_a_marker_output_is_checked_once_per_storage(
    postgres_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listings = count_listings(monkeypatch)
    lake = str(tmp_path / "kept")
    table = f"mixed_top_{uuid.uuid4().hex[:8]}"
    factory = functools.partial(LoadAndKeep, dsn=postgres_dsn, table=table, lake=lake)
    loaded = DAYS[:8]
    for day in loaded:
        factory(date=day).run()
    DatedTarget(lake, loaded[1]).remove_flag()  # loaded, partition flag gone
    marker = factory(date=loaded[2]).output()[0]
    assert isinstance(marker, PostgresMarkerTarget)
    marker.remove()  # partition there, marker gone
    done = [d for d in loaded if d not in (loaded[1], loaded[2])]

    CONNECTIONS.clear()
    listings.clear()
    assert LoadAndKeep.bulk_complete.__func__(factory, DAYS) == done  # type: ignore[attr-defined]
    assert len(CONNECTIONS) == 1  # per-date exists() would open 20
    assert listings == [lake]  # one listing of the dataset, not a HEAD/stat per date

    stop = DAYS[-1] + datetime.timedelta(days=1)
    backfill = RangeDaily(
        of=LoadAndKeep,
        of_params={"dsn": postgres_dsn, "table": table, "lake": lake},
        start=DAYS[0],
        stop=stop,
        now=calendar.timegm(stop.timetuple()),
        param_name="date",
    )
    CONNECTIONS.clear()
    assert sorted(t.date for t in backfill.requires()) == sorted(set(DAYS) - set(done))
    assert len(CONNECTIONS) == 1
    assert luigi.build([backfill], local_scheduler=True, log_level="WARNING")
    assert LoadAndKeep.bulk_complete.__func__(factory, DAYS) == DAYS  # type: ignore[attr-defined]
