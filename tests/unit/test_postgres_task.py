"""PostgresTopNTask maps attributes onto a load spec; spec validation; no server needed."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import luigi
import pytest

from luigi_ufo.errors import InvalidSpecError
from luigi_ufo.postgres import PostgresTopNTask
from luigi_ufo.postgres.load import LoadSpec


class TopStates(PostgresTopNTask):
    date = luigi.DateParameter()
    region = luigi.Parameter(default="us")
    verbose = luigi.BoolParameter(default=False, significant=False)
    n = luigi.IntParameter(default=10)
    table = "ufo.top_states"
    rank_by = "sightings"
    column_types = {"state": "varchar(2)", "sightings": "bigint"}  # noqa: RUF012


DAY = datetime.date(2024, 1, 2)


def test_default_partition_is_every_significant_run_parameter() -> None:
    # n describes the load, not the run; verbose is not significant.
    assert TopStates(date=DAY).partition() == {"date": DAY, "region": "us"}


def test_load_spec_types_and_order() -> None:
    spec = TopStates(date=DAY).load_spec(["state"])
    assert [(c.name, c.type) for c in spec.table.columns] == [
        ("date", "date"),
        ("region", "text"),
        ("rank", "integer"),
        ("state", "varchar(2)"),
        ("sightings", "bigint"),
    ]
    assert spec.partition_values == (DAY, "us")
    assert spec.update_id == TopStates(date=DAY).task_id
    assert spec.table.table.parts == ("ufo", "top_states")
    assert spec.marker_table.quoted == '"luigi_ufo_markers"'


def test_partition_columns_map_columns_to_parameters() -> None:
    class Renamed(TopStates):
        partition_columns = {"sighting_date": "date"}  # noqa: RUF012

    task = Renamed(date=DAY)
    assert task.partition() == {"sighting_date": DAY}
    assert [c.name for c in task.load_spec(["state"]).table.primary_key] == [
        "sighting_date",
        "rank",
    ]

    class Broken(TopStates):
        partition_columns = {"d": "no_such_param"}  # noqa: RUF012

    with pytest.raises(InvalidSpecError, match=r"missing attribute\(s\) \['no_such_param'\]"):
        Broken(date=DAY).partition()


def test_output_is_the_marker_of_this_run(luigi_config: Callable[[str, str, str], None]) -> None:
    luigi_config("postgres_topn", "marker_table", "meta.markers")
    target = TopStates(date=DAY).output()
    assert target.update_id == TopStates(date=DAY).task_id
    assert target.table.quoted == '"ufo"."top_states"'
    assert target.marker_table.quoted == '"meta"."markers"'
    assert "update_id=" in repr(target)


def test_table_and_rank_by_are_required() -> None:
    class NoTable(PostgresTopNTask):
        rank_by = "m"

    with pytest.raises(InvalidSpecError, match=r"must set table and rank_by, got table=None"):
        NoTable().load_spec(["k"])


def build(**kw: Any) -> LoadSpec:
    args: dict[str, Any] = {
        "table": "t",
        "rank_by": "m",
        "key_columns": ["k"],
        "update_id": "run-1",
        "partition": {"day": DAY},
    }
    args.update(kw)
    return LoadSpec.build(**args)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"column_types": {"nope": "text"}}, r"unknown column\(s\) \['nope'\]"),
        ({"column_types": {"rank": "bigint"}}, r"sets the rank column 'rank'"),
        ({"partition": {"day": None}}, r"partition column 'day' has value None"),
        ({"partition": {"day": ""}}, r"partition column 'day' has value ''"),
        ({"update_id": ""}, r"update_id is empty"),
        ({"key_columns": []}, r"needs at least one key column"),
        ({"key_columns": ["m"]}, r"\['m'\] used twice"),
        ({"rank_column": "day"}, r"\['day'\] used twice"),
        ({"ties": "random"}, r"unknown tie rule 'random'"),
        ({"column_types": {"k": "text; DROP TABLE t"}}, r"not a plain SQL type name"),
        ({"marker_table": "a.b.c"}, r"has 3 parts"),
    ],
)
def test_load_spec_validation(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        build(**kw)


@pytest.mark.parametrize(
    ("value", "sql_type"),
    [
        (DAY, "date"),
        (datetime.datetime(2024, 1, 2, 3), "timestamp"),
        (datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc), "timestamp with time zone"),
        (7, "bigint"),
        (True, "boolean"),
        (0.5, "double precision"),
        ("x", "text"),
    ],
)
def test_partition_types_follow_the_values(value: Any, sql_type: str) -> None:
    assert build(partition={"p": value}).table.partition[0].type == sql_type


def test_nul_in_a_partition_value_is_a_clear_error() -> None:
    # psycopg2 used to raise a raw ValueError composing the DELETE of the partition.
    with pytest.raises(
        InvalidSpecError,
        match=r"partition column 'region' has value 'u\\x00s', which contains a NUL .* remove it",
    ):
        build(partition={"region": "u\x00s"})
    with pytest.raises(InvalidSpecError, match=r"update_id 'run\\x00' contains a NUL"):
        build(update_id="run\x00")
    with pytest.raises(InvalidSpecError, match=r"partition column 'region' has value 'u\\x00s'"):
        TopStates(date=DAY, region="u\x00s").load_spec(["state"])
