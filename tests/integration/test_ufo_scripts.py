"""The pipeline's Spark scripts on real Spark: real NUFORC data and the bad-input catalogue.

Both paths of each script run: the local lake's (a classic session and local paths: what the
pipeline runs, see local_lake.py) and the DataFrame path (called directly here; what runs on S3,
on a replaced ``file:`` file system, and under Spark Connect with relative paths).
"""

from __future__ import annotations

import csv
import functools
import gzip
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests import ufo_exports
from tests.real_nuforc import KAGGLE, PRIMARY, real_file
from tests.reference_scripts import aggregate_by_state, local_lake, top_10

pytestmark = pytest.mark.integration

HEADER = "Date / Time,City,State,Shape,Duration,Summary,Posted\n"


@pytest.fixture(scope="module")
def spark(spark_local_master: str) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(spark_local_master)
        .appName("test_ufo_scripts")
        .config("spark.ui.enabled", "false")
        .config("spark.pyspark.python", sys.executable)
        .getOrCreate()
    )
    yield session
    session.stop()


def read_csv(directory: Path) -> list[list[str]]:
    assert (directory / "_SUCCESS").exists()
    (part,) = directory.glob("part-*.csv")
    with part.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def aggregate_argv(source: Path, out: Path, rejected: Path, *args: str) -> list[str]:
    """Return the aggregation script's argv for one input and its two outputs."""
    return ["--input", str(source), "--output", str(out), "--rejected-output", str(rejected), *args]


def aggregate(
    spark: Any, tmp_path: Path, source: Path, *args: str, path: str = "local"
) -> tuple[dict[str, int], dict[str, int]]:
    out, rejected = tmp_path / "by_state", tmp_path / "rejected"
    argv = aggregate_argv(source, out, rejected, *args)
    if path == "local":
        assert aggregate_by_state.main(argv, spark=spark) == 0
        assert (out / "part-00000.csv").is_file()  # the local lake's writer wrote it
    else:
        parsed = aggregate_by_state.parse(argv)
        counted = aggregate_by_state.count_with_spark(spark, parsed)
        write = functools.partial(aggregate_by_state.write_with_spark, spark)
        aggregate_by_state.aggregate(parsed, counted, write)
        assert not (out / "part-00000.csv").exists()  # Spark's writer: part-00000-<uuid>...
    states = {s: int(n) for s, n in read_csv(out)[1:]}
    reasons = {r: int(n) for r, n in read_csv(rejected)[1:]}
    return states, reasons


def top(spark: Any, tmp_path: Path, n: int = 10, path: str = "local") -> list[tuple[str, int]]:
    out = tmp_path / "top"
    argv = ["--input", str(tmp_path / "by_state"), "--output", str(out), "--top", str(n)]
    if path == "local":
        assert top_10.main(argv, spark=spark) == 0
    else:
        top_10.rank_with_spark(spark, top_10.build_parser().parse_args(argv))
    rows = read_csv(out)
    assert rows[0] == ["rank", "state", "sightings"]
    assert [int(r) for r, _, _ in rows[1:]] == list(range(1, len(rows)))
    return [(s, int(c)) for _, s, c in rows[1:]]


@pytest.mark.parametrize("path", ["local", "dataframe"])
def test_primary_file_gives_the_reference_top_ten(spark: Any, tmp_path: Path, path: str) -> None:
    states, reasons = aggregate(spark, tmp_path, real_file(PRIMARY), path=path)
    assert sum(states.values()) == 105_193
    assert len(states) == 51
    assert sum(states.values()) + sum(reasons.values()) == 119_727
    assert reasons == {
        "repeated_header": 930, "blank_state": 8_638, "not_us_state": 4_966,
        "foreign_country": 0, "malformed_record": 0, "blank_line": 0, "undecodable_bytes": 0,
    }  # fmt: skip
    assert top(spark, tmp_path, 11, path=path) == [
        ("CA", 13_513), ("FL", 6_498), ("WA", 5_884), ("TX", 4_945), ("NY", 4_679),
        ("AZ", 4_009), ("PA", 3_873), ("IL", 3_601), ("OH", 3_553), ("MI", 2_990),
        ("NC", 2_942),
    ]  # fmt: skip


def test_kaggle_file_default_rule_is_rule_b(spark: Any, tmp_path: Path) -> None:
    states, reasons = aggregate(spark, tmp_path, real_file(KAGGLE))
    assert sum(states.values()) == 70_894
    assert sum(states.values()) + sum(reasons.values()) == 80_332
    assert top(spark, tmp_path) == [
        ("CA", 9_655), ("WA", 4_266), ("FL", 4_200), ("TX", 3_677), ("NY", 3_219),
        ("AZ", 2_689), ("IL", 2_645), ("PA", 2_582), ("OH", 2_424), ("MI", 2_071),
    ]  # fmt: skip


def test_kaggle_file_country_us_is_rule_a_without_pr(spark: Any, tmp_path: Path) -> None:
    states, reasons = aggregate(spark, tmp_path, real_file(KAGGLE), "--country-rule", "us")
    # Rule A keeps 65,114 'us' rows; 25 of them are PR, which R1's state list leaves out.
    assert sum(states.values()) == 65_114 - 25
    assert reasons["foreign_country"] == 5_805 + 11
    assert top(spark, tmp_path) == [
        ("CA", 8_912), ("WA", 3_966), ("FL", 3_835), ("TX", 3_447), ("NY", 2_980),
        ("IL", 2_499), ("AZ", 2_414), ("PA", 2_366), ("OH", 2_275), ("MI", 1_836),
    ]  # fmt: skip


# The bad-input catalogue of ../shared/data/ufo/README.md, one small file per case, written in
# UTF-8 unless the case is about bytes. Each maps to (counted states, rejected reasons).
CASES: dict[str, tuple[bytes, dict[str, int], dict[str, int]]] = {
    "repeated_header": (
        (HEADER + "1/1/19,Reno,NV,Disk,5,x,1/2/19\n" + HEADER + HEADER).encode(),
        {"NV": 1},
        {"repeated_header": 2},
    ),
    "multiline": (
        (HEADER + '1/1/19,Reno,NV,Disk,5,"one\nCA\nthree",1/2/19\n').encode(),
        {"NV": 1},
        {},
    ),
    "quoting": (
        (
            HEADER + '1/1/19,"Erie, ""PA""",PA,Disk,"1 1\\2 hours","Green\\blue, ""x""",1/2/19\n'
        ).encode(),
        {"PA": 1},
        {},
    ),
    "text_debris": (
        (
            HEADER
            + "1/1/19,Reno,NV,Disk,5,tab\there &quot;x&#8217; \u201cq\u201d\u2026\xa0,1/2/19\n"
        ).encode(),
        {"NV": 1},
        {},
    ),
    "dates": (
        (
            HEADER + ",A,TX,,,,1/1/19\n23:00,B,TX,,,,1/1/19\n00/00/99 22:30,C,TX,,,,1/1/19\n"
        ).encode(),
        {"TX": 3},
        {},
    ),
    "states": (
        (
            HEADER
            + "".join(
                f"1/1/19,X,{s},,,,1/1/19\n"
                for s in ["", "Fl", "Ca", "ON", "PQ", "YK", "SA", "PR", "VI", " wa "]
            )
        ).encode(),
        {"FL": 1, "CA": 1, "WA": 1},
        {"blank_state": 1, "not_us_state": 6},
    ),
    "duplicates": (
        (
            HEADER
            + "1/1/19,Reno,NV,Disk,5,x,1/2/19\n" * 3
            + "1/1/19,MADAR Node 12,OH,,,MADAR,1/2/19\n"
        ).encode(),
        {"NV": 3, "OH": 1},
        {},
    ),
    "malformed": (
        (
            HEADER
            + "1/1/19,Reno,NV\n1/1/19,Reno,NV,Disk,5,x,1/2/19,extra\n\n"
            + "1/1/19,Reno,NV,Disk,5,x,1/2/19\n"
        ).encode(),
        {"NV": 1},
        {"malformed_record": 2, "blank_line": 1},
    ),
    "crlf": (
        (HEADER + '1/1/19,Reno,NV,Disk,5,"a\nb",1/2/19\n' + HEADER).replace("\n", "\r\n").encode(),
        {"NV": 1},
        {"repeated_header": 1},
    ),
    "gzip": (
        gzip.compress((HEADER + "1/1/19,Reno,NV,Disk,5,x,1/2/19\n").encode()),
        {"NV": 1},
        {},
    ),
}


@pytest.mark.parametrize("path", ["local", "dataframe"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_catalogue(spark: Any, tmp_path: Path, case: str, path: str) -> None:
    data, expected_states, expected_rejected = CASES[case]
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "export.csv").write_bytes(data)
    states, reasons = aggregate(spark, tmp_path, raw, path=path)
    assert states == expected_states
    assert {k: v for k, v in reasons.items() if v} == expected_rejected


def test_cp1252_export_fails_clearly_then_reads_with_its_encoding(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    data = (
        HEADER
        + "1/1/19,Montr\xe9al,QC,,,,1/1/19\n1/1/19,Reno,NV,,,\u201cx\u201d,1/1/19\n"
        + "1/1/19,Erie,PA,,,,1/1/19\n"
    ).encode("cp1252")
    (raw / "export.csv").write_bytes(data)
    argv = aggregate_argv(raw, tmp_path / "o", tmp_path / "r")
    assert aggregate_by_state.main(argv, spark=spark) == 2
    err = capsys.readouterr().err
    offset = data.index(b"\xe9")
    assert f"byte offset {offset}" in err
    assert "--encoding cp1252" in err
    assert not (tmp_path / "o").exists()
    states, reasons = aggregate(spark, tmp_path, raw, "--encoding", "cp1252")
    assert (states, reasons["not_us_state"]) == ({"NV": 1, "PA": 1}, 1)
    states, reasons = aggregate(spark, tmp_path, raw, "--decode-errors", "replace")
    assert (states, reasons["undecodable_bytes"]) == ({"PA": 1}, 2)


def test_wrong_header_fails_and_writes_nothing(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "export.csv").write_text("id,name\n1,x\n", encoding="utf-8")
    argv = aggregate_argv(raw, tmp_path / "o", tmp_path / "r")
    assert aggregate_by_state.main(argv, spark=spark) == 2
    assert "is not a NUFORC export" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "r").exists()


def test_several_files_and_tab_delimiter(spark: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    tsv = HEADER.replace(",", "\t") + "1/1/19\tReno, NV\tNV\t\t\t\t1/1/19\n"
    (raw / "a.tsv").write_text(tsv, encoding="utf-8")
    (raw / "b.tsv").write_text(tsv + tsv.split("\n", 1)[1], encoding="utf-8")
    (raw / "_SUCCESS").write_text("", encoding="utf-8")
    (raw / ".hidden").write_text("not data", encoding="utf-8")
    states, _ = aggregate(spark, tmp_path, raw, "--delimiter", "tab")
    assert states == {"NV": 3}


def test_all_rejected_fails_names_the_reason_and_keeps_the_old_outputs(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "export.csv").write_text(HEADER + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    assert aggregate(spark, tmp_path, raw)[0] == {"NV": 1}
    before = {p: p.read_bytes() for p in tmp_path.glob("*/*") if p.parent.name != "raw"}
    # Every record with a trailing comma: 8 fields, all malformed.
    bad = HEADER + "".join(f"1/1/19,Reno,{s},,,,1/1/19,\n" for s in ["NV", "CA", "TX"])
    (raw / "export.csv").write_text(bad, encoding="utf-8")
    argv = aggregate_argv(raw, tmp_path / "by_state", tmp_path / "rejected")
    assert aggregate_by_state.main(argv, spark=spark) == 2
    err = capsys.readouterr().err
    assert "3 of 3 records (all) were rejected" in err
    assert "most are 'malformed_record' (3)" in err
    assert f"{raw / 'export.csv'}, line 2: '1/1/19,Reno,NV,,,,1/1/19,'" in err
    assert before == {p: p.read_bytes() for p in tmp_path.glob("*/*") if p.parent.name != "raw"}
    # A threshold below 1 fails a mostly rejected export too.
    (raw / "export.csv").write_text(bad + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    assert aggregate_by_state.main([*argv, "--max-rejected-fraction", "0.5"], spark=spark) == 2
    assert "3 of 4 records (75.0%) were rejected" in capsys.readouterr().err
    # A header alone is refused the same way, whatever the threshold.
    (raw / "export.csv").write_text(HEADER, encoding="utf-8")
    assert aggregate_by_state.main(argv, spark=spark) == 2
    assert f"{raw}: no records after the header" in capsys.readouterr().err
    assert before == {p: p.read_bytes() for p in tmp_path.glob("*/*") if p.parent.name != "raw"}
    (raw / "export.csv").write_text(HEADER + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    assert aggregate(spark, tmp_path, raw)[0] == {"NV": 1}


# Tens of examples: each is one small local job on the module's warm session (under 1 s).
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(export=ufo_exports.exports)
def test_generated_exports_through_spark_match_an_independent_r1_count(
    spark: Any, export: ufo_exports.Export
) -> None:
    want = ufo_exports.expected(export)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        (raw / "export.csv").write_bytes(ufo_exports.render(export))
        argv = aggregate_argv(raw, Path(tmp) / "s", Path(tmp) / "r")
        code = aggregate_by_state.main(argv, spark=spark)
        if sum(want.states.values()) == 0:  # no records, or all rejected: refused
            assert code == 2
            assert not (Path(tmp) / "s").exists()
            return
        assert code == 0
        states = {s: int(n) for s, n in read_csv(Path(tmp) / "s")[1:]}
        reasons = {r: int(n) for r, n in read_csv(Path(tmp) / "r")[1:]}
    assert states == dict(want.states)
    assert sum(states.values()) + sum(reasons.values()) == want.records
    assert +Counter(reasons) == want.rejected


@pytest.mark.parametrize("rows", [[("CA", 13_513), ("TX", 4_945), ("DC", 7)], []])
def test_the_local_lake_writes_and_reads_what_the_dataframe_path_does(
    spark: Any, tmp_path: Path, rows: list[tuple[str, int]]
) -> None:
    header = aggregate_by_state.STATE_HEADER
    aggregate_by_state.write_with_spark(spark, str(tmp_path / "df"), header, rows)
    local_lake.replace_dataset(str(tmp_path / "py"), header, rows)
    (df_part,) = (tmp_path / "df").glob("part-*.csv")
    assert df_part.name.endswith("-c000.csv")
    assert sorted(p.name for p in (tmp_path / "py").iterdir()) == ["_SUCCESS", "part-00000.csv"]
    assert (tmp_path / "py" / "part-00000.csv").read_bytes() == df_part.read_bytes()
    # Each path of top_10 reads the dataset either path wrote, and both write the same bytes.
    written = {}
    for source in ("df", "py"):
        for path in ("local", "dataframe"):
            out = tmp_path / f"top-{source}-{path}"
            argv = ["--input", str(tmp_path / source), "--output", str(out), "--top", "2"]
            args = top_10.build_parser().parse_args(argv)
            if path == "local":
                top_10.rank_locally(args, local_lake.in_process)
            else:
                top_10.rank_with_spark(spark, args)
            (part,) = out.glob("part-*.csv")
            written[source, path] = part.read_bytes()
    assert len(set(written.values())) == 1, written
    expected = "".join(
        f"{r},{s},{n}\n"
        for r, (s, n) in enumerate(sorted(rows, key=lambda x: (-x[1], x[0]))[:2], 1)
    )
    assert written["py", "local"].decode() == "rank,state,sightings\n" + expected


def test_top_10_refuses_a_dataset_that_is_not_state_counts_on_both_paths(
    spark: Any, tmp_path: Path
) -> None:
    wrong = tmp_path / "rejected"
    local_lake.replace_dataset(str(wrong), ("reason", "records"), [("blank_state", 3)])
    bad_row = tmp_path / "bad"
    bad_row.mkdir()
    (bad_row / "part-00000.csv").write_text("state,sightings\nCA,many\n", encoding="utf-8")
    for source, local_says in (
        (wrong, "is not 'state,sightings'"),
        (bad_row, "is not 'STATE,COUNT'"),
    ):
        args = top_10.build_parser().parse_args(
            ["--input", str(source), "--output", str(tmp_path / "o")]
        )
        with pytest.raises(top_10.InputError, match=local_says):
            top_10.rank_locally(args, local_lake.in_process)
        with pytest.raises(top_10.InputError, match="is not a state,sightings CSV"):
            top_10.rank_with_spark(spark, args)
    missing = top_10.build_parser().parse_args(
        ["--input", str(tmp_path / "none"), "--output", str(tmp_path / "o")]
    )
    with pytest.raises(top_10.InputError, match="does not exist; run AggregateUFOsByState first"):
        top_10.rank_with_spark(spark, missing)
    assert not (tmp_path / "o").exists()
