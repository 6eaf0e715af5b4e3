"""PostgresTopNTask end to end: dated CSV input, luigi.build, reruns, bad rows."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import luigi
import pytest
from psycopg2 import sql

from luigi_ufo.dated import DatedTarget
from luigi_ufo.errors import BadInputError
from luigi_ufo.postgres import ConnectionSettings, PostgresTopNTask, connect, transaction

pytestmark = pytest.mark.integration

DAY = datetime.date(2024, 3, 1)


class ByState(luigi.ExternalTask):
    root = luigi.Parameter()
    date = luigi.DateParameter()

    def output(self) -> DatedTarget:
        return DatedTarget(self.root, self.date)


class TopStates(PostgresTopNTask):
    root = luigi.Parameter(significant=False)
    date = luigi.DateParameter()
    dsn = luigi.Parameter(significant=False)
    table = luigi.Parameter()
    n = 2
    rank_by = "sightings"
    partition_columns = {"sighting_date": "date"}  # noqa: RUF012
    column_types = {"state": "varchar(2)", "sightings": "bigint"}  # noqa: RUF012

    def requires(self) -> ByState:
        return ByState(root=self.root, date=self.date)

    def connection_settings(self) -> ConnectionSettings:
        return ConnectionSettings(dsn=self.dsn)


def write_partition(root: Path, day: datetime.date, text: str) -> None:
    part = root / day.isoformat()
    part.mkdir(parents=True, exist_ok=True)
    (part / "part-00000.csv").write_text(text, encoding="utf-8")
    (part / "_SUCCESS").write_text("", encoding="utf-8")


def table_rows(dsn: str, table: str) -> list[tuple[Any, ...]]:
    with connect(ConnectionSettings(dsn=dsn)) as conn, transaction(conn) as cur:
        cur.execute(sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(sql.Identifier(table)))
        return [tuple(r) for r in cur.fetchall()]


def test_task_loads_dated_csv_and_rerun_replaces(postgres_dsn: str, tmp_path: Path) -> None:
    table = f"top_states_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "by_state"
    write_partition(root, DAY, "state,sightings\nCA,10\nTX,7\nWA,7\nNY,1\n")
    task = TopStates(root=str(root), date=DAY, dsn=postgres_dsn, table=table)
    assert not task.complete()
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    assert task.complete()
    assert table_rows(postgres_dsn, table) == [(DAY, 1, "CA", 10), (DAY, 2, "TX", 7)]
    # New data for the same date: running again replaces that date's rows only.
    write_partition(root, DAY, "state,sightings\nOR,3\nCA,2\n")
    other = TopStates(
        root=str(root), date=DAY + datetime.timedelta(days=1), dsn=postgres_dsn, table=table
    )
    write_partition(root, other.date, "state,sightings\nFL,5\n")
    other.run()
    task.run()
    assert task.load_result is not None
    assert task.load_result.replaced == 2
    assert table_rows(postgres_dsn, table) == [
        (DAY, 1, "OR", 3),
        (DAY, 2, "CA", 2),
        (other.date, 1, "FL", 5),
    ]


def test_task_bad_row_fails_or_is_skipped(postgres_dsn: str, tmp_path: Path) -> None:
    table = f"top_states_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "by_state"
    write_partition(root, DAY, "state,sightings\nCA,10\nTX,many\nWA,2\n")
    task = TopStates(root=str(root), date=DAY, dsn=postgres_dsn, table=table)
    with pytest.raises(
        BadInputError, match=r"part-00000\.csv:3: column 'sightings': measure 'many'"
    ):
        task.run()
    assert not task.complete()

    class Lenient(TopStates):
        skip_bad_rows = True

    lenient = Lenient(root=str(root), date=DAY, dsn=postgres_dsn, table=table)
    lenient.run()
    assert lenient.read_result is not None
    assert lenient.read_result.skipped == 1
    assert table_rows(postgres_dsn, table) == [(DAY, 1, "CA", 10), (DAY, 2, "WA", 2)]


def test_in_memory_rows_with_groups(postgres_dsn: str) -> None:
    table = f"top_cities_{uuid.uuid4().hex[:8]}"

    class TopCities(PostgresTopNTask):
        run_id = luigi.IntParameter()
        n = 1
        rank_by = "n"
        group_by = ("state",)

        def rows(self) -> Iterable[Mapping[str, Any]]:
            return [
                {"state": "CA", "city": "LA", "n": 5},
                {"state": "CA", "city": "SF", "n": 6},
                {"state": "TX", "city": "Austin", "n": 1.5},
            ]

        def connection_settings(self) -> ConnectionSettings:
            return ConnectionSettings(dsn=postgres_dsn)

    TopCities.table = table
    task = TopCities(run_id=7)
    task.run()
    assert task.complete()
    assert table_rows(postgres_dsn, table) == [(7, "CA", 1, "SF", 6), (7, "TX", 1, "Austin", 1.5)]
