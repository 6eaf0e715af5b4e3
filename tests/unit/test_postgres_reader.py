"""Reading aggregate rows: dated CSV parts, plain targets, dict rows, and bad input."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import luigi
import pytest

from luigi_ufo.dated import DatedTarget
from luigi_ufo.errors import BadInputError
from luigi_ufo.postgres.ranking.reader import parse_measure, read_records

DAY = datetime.date(2024, 2, 29)


def dated(tmp_path: Path, parts: dict[str, str]) -> DatedTarget:
    part_dir = tmp_path / "lake" / DAY.isoformat()
    part_dir.mkdir(parents=True)
    for name, text in parts.items():
        (part_dir / name).write_text(text, encoding="utf-8")
    (part_dir / "_SUCCESS").write_bytes(b"")
    return DatedTarget(str(tmp_path / "lake"), DAY)


def test_dated_target_parts_are_read_in_order_with_header(tmp_path: Path) -> None:
    target = dated(
        tmp_path,
        {
            "part-00000.csv": "state,sightings\nCA,10\nTX,7\n",
            "part-00001.csv": 'state,sightings\n"N,Y",3\n',
            "_committed": "junk",
            ".hidden.crc": "junk",
        },
    )
    result = read_records(target, rank_by="sightings")
    assert result.key_columns == ("state",)
    assert [(r.key, r.measure) for r in result.records] == [
        (("CA",), 10),
        (("TX",), 7),
        (("N,Y",), 3),
    ]
    assert result.records[2].where.endswith("2024-02-29/part-00001.csv:2")


def test_missing_key_names_file_line_and_value(tmp_path: Path) -> None:
    target = dated(tmp_path, {"part-00000.csv": "state,sightings\nCA,10\n,5\n"})
    with pytest.raises(BadInputError, match=r"part-00000\.csv:3: column 'state' .* \(value ''\)"):
        read_records(target, rank_by="sightings")


def test_non_numeric_measure_names_file_line_and_value(tmp_path: Path) -> None:
    target = dated(tmp_path, {"part-00000.csv": 'state,sightings\nCA,10\n"TX",\n"WA","1x"\n'})
    with pytest.raises(BadInputError, match=r"part-00000\.csv:3: column 'sightings': measure "):
        read_records(target, rank_by="sightings")
    # A multi-line quoted field: the line reported is where the record ends.
    target2 = dated(tmp_path / "b", {"p.csv": 'state,n\n"a\nb",oops\n'})
    with pytest.raises(BadInputError, match=r"p\.csv:3: column 'n': measure 'oops' is not"):
        read_records(target2, rank_by="n")


def test_skip_bad_rows_counts_and_keeps_examples(tmp_path: Path) -> None:
    text = "state,sightings\nCA,10\n,5\nTX,x\nWA,nan\nOR,2\n"
    result = read_records(dated(tmp_path, {"p.csv": text}), rank_by="sightings", skip_bad_rows=True)
    assert [r.key for r in result.records] == [("CA",), ("OR",)]
    assert result.skipped == 3
    assert [e.rsplit("/", 1)[1][:7] for e in result.examples] == ["p.csv:3", "p.csv:4", "p.csv:5"]


def test_missing_column_in_header_always_fails(tmp_path: Path) -> None:
    target = dated(tmp_path, {"p.csv": "state,count\nCA,1\n"})
    with pytest.raises(
        BadInputError, match=r"header \['state', 'count'\] lacks column\(s\) \['n'\]"
    ):
        read_records(target, rank_by="n", skip_bad_rows=True)


def test_plain_luigi_target_and_list_of_targets(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("g,k,m\nx,a,1\n", encoding="utf-8")
    two = tmp_path / "two.csv"
    two.write_text("g,k,m\nx,b,2.5\n", encoding="utf-8")
    result = read_records(
        [luigi.LocalTarget(str(one)), luigi.LocalTarget(str(two))], rank_by="m", group_by=["g"]
    )
    assert result.key_columns == ("k",)
    assert [(r.group, r.key, r.measure) for r in result.records] == [
        (("x",), ("a",), 1),
        (("x",), ("b",), 2.5),
    ]
    assert result.records[1].where == f"{two}:2"
    # A dict of targets (requires() returning a dict) is read in its order too.
    by_name = {"b": luigi.LocalTarget(str(two)), "a": luigi.LocalTarget(str(one))}
    keys = [r.key for r in read_records(by_name, rank_by="m", group_by=["g"]).records]
    assert keys == [("b",), ("a",)]


def test_dict_rows_keep_python_values() -> None:
    rows: list[dict[str, Any]] = [
        {"year": 2020, "city": "Rome", "n": Decimal("1.5")},
        {"year": 2020, "city": "Oslo", "n": "7"},
    ]
    result = read_records(rows, rank_by="n", exclude=["year"])
    assert result.key_columns == ("city",)
    assert [(r.key, r.measure) for r in result.records] == [
        (("Rome",), Decimal("1.5")),
        (("Oslo",), 7),
    ]
    with pytest.raises(
        BadInputError, match=r"row 2: column 'city' is missing or empty \(value None\)"
    ):
        read_records([{"city": "a", "n": 1}, {"n": 2}], rank_by="n")


def test_explicit_key_columns_and_empty_input() -> None:
    rows = [{"a": "1", "b": "2", "n": "3"}]
    assert read_records(rows, rank_by="n", key_columns=["b"]).records[0].key == ("2",)
    assert read_records([], rank_by="n", key_columns=["b"]).records == []
    with pytest.raises(BadInputError, match=r"has no rows, so key columns cannot be inferred"):
        read_records([], rank_by="n")


@pytest.mark.parametrize("source", ["a,b\n1,2", {"a": 1}, [1, 2]])
def test_sources_that_are_not_rows_are_refused(source: Any) -> None:
    with pytest.raises(BadInputError, match=r"not (rows|a dict)"):
        read_records(source, rank_by="n")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        (" -3 ", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("12345678901234567890", 12345678901234567890),
    ],
)
def test_parse_measure_accepts_numbers(text: str, value: Any) -> None:
    parsed = parse_measure(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize("text", ["", "1_000", "nan", "inf", "0x10", "1,5", "--1", None, True, [1]])
def test_parse_measure_rejects_non_numbers(text: Any) -> None:
    with pytest.raises(BadInputError, match=r"measure .*(not a number|null|not finite)"):
        parse_measure(text)


def test_header_only_and_empty_parts(tmp_path: Path) -> None:
    target = dated(tmp_path, {"part-00000.csv": "state,sightings\n", "part-00001.csv": ""})
    result = read_records(target, rank_by="sightings")
    assert result.key_columns == ("state",)
    assert result.records == []


def test_field_count_differing_from_header_is_bad_input(tmp_path: Path) -> None:
    target = dated(tmp_path, {"p.csv": "state,sightings\nCA,1\nTX,2,extra\nWA\n"})
    with pytest.raises(BadInputError, match=r"p\.csv:3: row has 3 fields, the header 2"):
        read_records(target, rank_by="sightings")
    result = read_records(target, rank_by="sightings", skip_bad_rows=True)
    assert (len(result.records), result.skipped) == (1, 2)
