"""Ranking inside PostgreSQL gives exactly what the Python read + ``top_n`` + ``load`` give."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from luigi_ufo.errors import BadInputError
from luigi_ufo.postgres import (
    ConnectionSettings,
    LoadSpec,
)
from luigi_ufo.postgres.ranking.database import rank_in_database
from luigi_ufo.postgres.ranking.parts import Declined, csv_parts
from luigi_ufo.postgres.ranking.reader import RecordReader
from tests.topn_tables import load_by_python, sorted_rows, write_export

pytestmark = pytest.mark.integration

DAY = datetime.date(2024, 5, 17)
# Few distinct values, so keys repeat, measures tie and groups collide; non-ASCII and case
# probe the ordering (code points, never a collation).
TEXT = st.sampled_from(["a", "b", "B", "ab", "é", "Z", "☃", " a", "a b", "10", "9", ""])
GOOD_MEASURE = st.one_of(
    st.integers(-3, 6).map(str), st.sampled_from([" 5", "+3", "007", "-0", "12345678901234567890"])
)
BAD_MEASURE = st.sampled_from(["", "x", "nan", "inf", "1_0", "0x10", "--1"])
PYTHON_MEASURE = st.sampled_from(["1.5", "1e3", ".5", "2.0"])  # valid, but not ASCII integers


@st.composite
def exports(draw: st.DrawFn) -> dict[str, Any]:
    groups = draw(st.sampled_from([(), ("g",)]))
    keys = draw(st.sampled_from([("k",), ("k", "k2")]))
    header = [*groups, *keys, "m"]
    if draw(st.booleans()):
        header.append("extra")
    # Rare on purpose: each one sends the whole export to the Python read.
    python_only = draw(st.integers(0, 9)) == 0
    parts = []
    for _ in range(draw(st.integers(1, 2))):
        rows = []
        for _ in range(draw(st.integers(0, 12))):
            values = {c: draw(TEXT) for c in groups}
            # Mostly distinct keys, sometimes a repeat (an error in every path) or an empty one.
            values.update({c: draw(TEXT) + draw(TEXT) for c in keys})
            values["m"] = draw(
                st.one_of(GOOD_MEASURE, BAD_MEASURE)
                if draw(st.integers(0, 9)) == 0
                else GOOD_MEASURE
            )
            values["extra"] = "x"
            rows.append([values[c] for c in header])
        if python_only and rows:
            rows[-1] = (
                [*rows[-1], "surplus"]  # a field count the header does not have
                if draw(st.booleans())
                else [*rows[-1][:-1], draw(PYTHON_MEASURE)]
            )
        parts.append((header, rows))
    return {
        "groups": groups,
        "keys": keys if draw(st.booleans()) else None,
        "parts": parts,
        "n": draw(st.integers(1, 5)),
        "ties": draw(st.sampled_from(["stable", "with_ties", "dense"])),
        "skip": draw(st.booleans()),
    }


def _python_only(example: dict[str, Any]) -> bool:
    """Tell whether the export holds something only the Python read takes exactly."""
    for header, rows in example["parts"]:
        for row in rows:
            if len(row) != len(header) or any(v in ("1.5", "1e3", ".5", "2.0") for v in row):
                return True
    return False


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(example=exports())
def test_sql_ranking_equals_python_ranking(
    example: dict[str, Any], postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    target = write_export(tmp_path_factory.mktemp("export"), DAY, example["parts"])
    conn = ConnectionSettings(dsn=postgres_dsn)
    groups, keys, skip = example["groups"], example["keys"], example["skip"]
    n, ties = example["n"], example["ties"]

    def spec_for(table: str, key_columns: Any) -> LoadSpec:
        return LoadSpec.build(
            table=table,
            rank_by="m",
            key_columns=key_columns,
            update_id=table,
            group_by=groups,
            partition={"day": DAY},
            ties=ties,
        )

    python_table, sql_table = (f"t_{uuid.uuid4().hex[:12]}" for _ in range(2))
    read, expected_error = load_by_python(
        target,
        example,
        exclude=("rank", "day"),
        spec_for=lambda key_columns: spec_for(python_table, key_columns),
        settings=conn,
    )

    reader = RecordReader("m", keys, groups, ("rank", "day"), skip)
    parts = csv_parts(target)
    assert parts is not None
    try:
        staged, loaded = rank_in_database(
            parts,
            reader=reader,
            n=n,
            ties=ties,
            spec_for=lambda key_columns: spec_for(sql_table, key_columns),
            settings=conn,
        )
    except Declined:
        assert _python_only(example), "fell back to Python on input SQL can rank"
        event("read in Python")
        return
    except BadInputError as exc:
        error = str(exc)
    else:
        error = None
    assert error == expected_error
    if error is not None:
        event("same error")
        return
    event("ranked in SQL")
    assert read is not None  # no error, so the Python path read and loaded
    assert sorted_rows(postgres_dsn, sql_table) == sorted_rows(postgres_dsn, python_table)
    assert loaded.rows == len(sorted_rows(postgres_dsn, python_table))
    assert (staged.key_columns, staged.skipped, staged.examples, staged.reasons) == (
        read.key_columns,
        read.skipped,
        read.examples,
        read.reasons,
    )
