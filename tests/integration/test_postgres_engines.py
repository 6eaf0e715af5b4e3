"""``rank()`` picks the engine: the fastest that takes the input, each from a fresh reader."""

from __future__ import annotations

import datetime
import functools
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from luigi_ufo.postgres import ConnectionSettings, LoadSpec
from luigi_ufo.postgres.ranking.engines import rank
from luigi_ufo.postgres.ranking.reader import RecordReader
from tests.topn_tables import sorted_rows, write_export

pytestmark = pytest.mark.integration

DAY = datetime.date(2024, 5, 19)
HEADER = ["state", "sightings"]
# Hand-ranked top 3 of ROWS (stable ties: key ascending): what every engine must load.
ROWS = [["CA", "13"], ["WA", "5"], ["FL", "6"], ["TX", "5"], ["NY", "2"]]
TOP_3 = [(DAY, 1, "CA", 13), (DAY, 2, "FL", 6), (DAY, 3, "TX", 5)]
DECLINED = {  # the INFO line logged when each engine declines
    "arrow": "ranks its input in SQL",
    "database": "reads its input in Python",
}


def _rank(dsn: str, source: Any, *, skip: bool = False) -> tuple[str, Any, Any]:
    table = f"e_{uuid.uuid4().hex[:12]}"
    read, loaded = rank(
        source,
        new_reader=functools.partial(RecordReader, "sightings", None, (), ("rank", "day"), skip),
        n=3,
        ties="stable",
        spec_for=lambda keys: LoadSpec.build(
            table=table,
            rank_by="sightings",
            key_columns=keys,
            update_id=table,
            partition={"day": DAY},
            column_types={"sightings": "bigint"},
        ),
        settings=ConnectionSettings(dsn=dsn),
        label="run-x",
    )
    return table, read, loaded


def _declined(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        name
        for record in caplog.records
        for name, text in DECLINED.items()
        if record.getMessage().startswith(f"run-x {text}: ")
    ]


@pytest.mark.parametrize(
    ("last_measure", "declined"),
    [
        ("2", []),  # clean: pyarrow ranks it
        (" 2", ["arrow"]),  # not a plain integer for pyarrow; an ASCII integer for SQL
        ("2.0", ["arrow", "database"]),  # a float: only the Python read takes it exactly
    ],
)
def test_fastest_engine_that_takes_the_input_loads_the_same_rows(
    postgres_dsn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    last_measure: str,
    declined: list[str],
) -> None:
    rows = [*ROWS[:-1], ["NY", last_measure]]
    target = write_export(tmp_path, DAY, [(HEADER, rows)])
    with caplog.at_level(logging.INFO, logger="luigi_ufo.postgres.ranking.engines"):
        table, read, loaded = _rank(postgres_dsn, target)
    assert _declined(caplog) == declined
    assert sorted_rows(postgres_dsn, table) == TOP_3
    assert (read.key_columns, read.skipped, loaded.rows) == (("state",), 0, 3)


def test_dict_rows_are_ranked_in_python(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [{"state": state, "sightings": int(count)} for state, count in ROWS]
    with caplog.at_level(logging.INFO, logger="luigi_ufo.postgres.ranking.engines"):
        table, _, loaded = _rank(postgres_dsn, rows)
    assert _declined(caplog) == []
    assert sorted_rows(postgres_dsn, table) == TOP_3
    assert loaded.rows == 3


def test_rows_an_engine_counted_before_declining_are_counted_once(
    postgres_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The SQL engine judges the empty key (skipped, counted) before the float makes it
    # decline; the Python read then counts that row again, from a fresh reader: once in all.
    rows = [*ROWS, ["", "9"], ["ZZ", "1.5"]]
    target = write_export(tmp_path, DAY, [(HEADER, rows)])
    with caplog.at_level(logging.INFO, logger="luigi_ufo.postgres.ranking.engines"):
        table, read, _ = _rank(postgres_dsn, target, skip=True)
    assert _declined(caplog) == ["arrow", "database"]
    assert (read.skipped, read.reasons) == (1, {"empty key or group": 1})
    assert read.examples == [f"{target.uri}part-00000.csv:7: column 'state' is empty (value '')"]
    assert sorted_rows(postgres_dsn, table) == TOP_3
