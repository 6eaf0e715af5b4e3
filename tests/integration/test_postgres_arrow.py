"""Ranking with pyarrow gives exactly what the Python read + ``top_n`` + ``load`` give."""

from __future__ import annotations

import datetime
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from luigi_ufo.postgres import (
    ConnectionSettings,
    LoadSpec,
    connect,
    transaction,
)
from luigi_ufo.postgres import sql as q
from luigi_ufo.postgres.ranking.arrow import rank_columnar
from luigi_ufo.postgres.ranking.parts import Declined, csv_parts
from luigi_ufo.postgres.ranking.reader import RecordReader
from tests.topn_tables import load_by_python, sorted_rows, write_export

pytestmark = pytest.mark.integration

DAY = datetime.date(2024, 5, 18)
# Few distinct values, so keys repeat, measures tie and groups collide; non-ASCII, case and
# spaces probe the ordering (code points, never a collation).
TEXT = st.sampled_from(["a", "b", "B", "ab", "é", "Z", "☃", " a", "a b", "10", "9", "\\."])
PLAIN = st.integers(-3, 6).map(str) | st.sampled_from(["007", "-0", "999999999999999999"])
# Each one is judged elsewhere (SQL or Python): the columnar path must decline, never load.
DIRTY = st.sampled_from(["", " 5", "+3", "x", "1.5", "nan", "1_0", "12345678901234567890"])
PLAIN_MEASURE = re.compile(r"-?[0-9]{1,18}")


@st.composite
def exports(draw: st.DrawFn) -> dict[str, Any]:
    groups = draw(st.sampled_from([(), ("g",), ("g", "g2")]))
    keys = draw(st.sampled_from([("k",), ("k", "k2")]))
    header = [*groups, *keys, "m"]
    if draw(st.booleans()):
        header.insert(draw(st.integers(0, len(header))), "extra")
    dirty = draw(st.integers(0, 3)) == 0
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        rows = []
        for _ in range(draw(st.integers(0, 12))):
            values = {c: draw(TEXT) for c in groups}
            values.update({c: draw(TEXT) + draw(TEXT) for c in keys})
            values["m"] = draw(DIRTY if dirty and draw(st.booleans()) else PLAIN)
            values["extra"] = draw(st.sampled_from(["", "x", "y z"]))
            if dirty and draw(st.integers(0, 5)) == 0:
                values[draw(st.sampled_from([*groups, *keys]))] = ""
            rows.append([values[c] for c in header])
        if dirty and rows and draw(st.booleans()):
            rows[-1] = [*rows[-1], "surplus"]
        parts.append((header, rows))
    return {
        "groups": groups,
        "keys": keys if draw(st.booleans()) else None,
        "parts": parts,
        "n": draw(st.integers(1, 6)),
        "ties": draw(st.sampled_from(["stable", "with_ties", "dense"])),
        "skip": draw(st.booleans()),
        # A partition value csv must quote: the COPY rows repeat it.
        "source": draw(st.sampled_from(["lake", 'a,"b"', "x\ny"])),
        # One partition column in a LIST-partitioned table: the load swaps child tables.
        "partitioned": draw(st.booleans()),
    }


def _clean(example: dict[str, Any], key_columns: tuple[str, ...]) -> bool:
    """Tell whether every row is good: what the columnar path must take."""
    for header, rows in example["parts"]:
        for row in rows:
            if len(row) != len(header):
                return False
            values = dict(zip(header, row, strict=False))
            if any(values[c] == "" for c in (*example["groups"], *key_columns)):
                return False
            if not PLAIN_MEASURE.fullmatch(values["m"]):
                return False
    return True


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(example=exports())
def test_columnar_ranking_equals_python_ranking(
    example: dict[str, Any], postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    target = write_export(tmp_path_factory.mktemp("export"), DAY, example["parts"])
    conn = ConnectionSettings(dsn=postgres_dsn)
    groups, keys, skip = example["groups"], example["keys"], example["skip"]
    n, ties = example["n"], example["ties"]

    def spec_for(table: str, key_columns: Any, partitioned: bool = False) -> LoadSpec:
        partition = {"source": example["source"]}
        return LoadSpec.build(
            table=table,
            rank_by="m",
            key_columns=key_columns,
            update_id=table,
            group_by=groups,
            partition=partition if partitioned else {"day": DAY, **partition},
            ties=ties,
            partitioned=partitioned,
        )

    python_table, columnar_table = (f"c_{uuid.uuid4().hex[:12]}" for _ in range(2))
    read, expected_error = load_by_python(
        target,
        example,
        exclude=("rank", "day", "source"),
        spec_for=lambda keys: spec_for(python_table, keys),
        settings=conn,
    )
    reader = RecordReader("m", keys, groups, ("rank", "day", "source"), skip)
    parts = csv_parts(target)
    assert parts is not None
    try:
        ranked, loaded = rank_columnar(
            parts,
            reader=reader,
            n=n,
            ties=ties,
            spec_for=lambda keys: spec_for(columnar_table, keys, example["partitioned"]),
            settings=conn,
        )
    except Declined:
        # Declined: only bad rows, repeated keys or an error of the Python read explain it.
        assert read is None or read.skipped or not _clean(example, read.key_columns)
        with connect(conn) as c, transaction(c) as cur:
            cur.execute(q.TABLE_EXISTS, (q.quote_ident(columnar_table),))
            assert cur.fetchone() == (False,), "a declined input wrote something"
        event("declined")
        return
    assert read is not None, f"ranked input that the Python read refuses: {expected_error}"
    event("ranked with pyarrow")
    got = sorted_rows(postgres_dsn, columnar_table)
    if example["partitioned"]:  # the same rows, without the day column
        got = [(DAY, *row) for row in got]
    assert got == sorted_rows(postgres_dsn, python_table)
    assert loaded.rows == len(sorted_rows(postgres_dsn, python_table))
    assert (ranked.key_columns, ranked.skipped, ranked.examples, ranked.reasons) == (
        read.key_columns,
        read.skipped,
        read.examples,
        read.reasons,
    )


def test_input_over_the_size_limit_goes_to_sql(postgres_dsn: str, tmp_path: Path) -> None:
    target = write_export(tmp_path, DAY, [(["k", "m"], [[f"k{i}", str(i)] for i in range(100)])])
    parts = csv_parts(target)
    assert parts is not None
    with pytest.raises(Declined, match="larger than 64 bytes"):
        rank_columnar(
            parts,
            reader=RecordReader("m", None, (), ("rank",), False),
            n=3,
            ties="stable",
            spec_for=lambda keys: LoadSpec.build(
                table="never_created", rank_by="m", key_columns=keys, update_id="u"
            ),
            settings=ConnectionSettings(dsn=postgres_dsn),
            max_bytes=64,
        )
