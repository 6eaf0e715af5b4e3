"""Rule R1 (nuforc.py) and the bad-input catalogue on small synthetic excerpts, without Spark."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from luigi_ufo.scripts import nuforc as agg

from luigi_ufo.postgres.ranking.rules import Record, Ties, top_n
from tests import ufo_exports
from tests.reference_scripts import local_lake, top_10

HEADER = "Date / Time,City,State,Shape,Duration,Summary,Posted\n"
NUFORC = agg.detect_layout(HEADER.strip().split(","))
KAGGLE = agg.detect_layout(["state", "country", "shape", "latitude", "longitude "])


def opener(data: bytes) -> Callable[[], IO[bytes]]:
    return lambda: io.BytesIO(data)


def count(text: str, **options: str) -> agg.FileCounts:
    return agg.count_stream(opener(text.encode("utf-8")), agg.Options(**options))


def row(state: str, summary: str = "light") -> list[str]:
    return ["3/21/19 04:30", "Turners Falls", state, "Light", "2.5 hrs", summary, "3/21/19"]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("CA", "CA"),
        ("Ca", "CA"),
        (" fl ", "FL"),
        ("DC", "DC"),
        ("", "blank_state"),
        ("   ", "blank_state"),
        ("ON", "not_us_state"),
        ("PR", "not_us_state"),
        ("VI", "not_us_state"),
        ("SA", "not_us_state"),
    ],
)
def test_state_codes_follow_r1(state: str, expected: str) -> None:
    assert agg.classify_record(row(state), NUFORC) == expected


def test_all_50_states_and_dc_count() -> None:
    assert len(agg.US_STATES) == 51
    assert "DC" in agg.US_STATES
    assert "PR" not in agg.US_STATES


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            ["Date / Time", "City", "State", "Shape", "Duration", "Summary", "Posted"],
            "repeated_header",
        ),
        (
            ["date/time", " CITY", "state ", "Shape", "Duration", "Summary", "Posted"],
            "repeated_header",
        ),
        ([], "blank_line"),
        (["3/21/19", "Boston", "MA"], "malformed_record"),
        ([*row("MA"), "extra"], "malformed_record"),
    ],
)
def test_structural_reasons(record: list[str], expected: str) -> None:
    assert agg.classify_record(record, NUFORC) == expected


@pytest.mark.parametrize(
    ("country", "rule", "expected"),
    [
        ("us", "us-or-blank", "TX"),
        ("", "us-or-blank", "TX"),
        ("gb", "us-or-blank", "foreign_country"),
        ("us", "us", "TX"),
        ("", "us", "foreign_country"),
        (" US ", "us", "TX"),
        ("ca", "any", "TX"),
    ],
)
def test_country_rule_applies_to_kaggle_layout(country: str, rule: str, expected: str) -> None:
    assert agg.classify_record(["tx", country, "light", "1", "2"], KAGGLE, rule) == expected


def test_country_rule_ignored_for_nuforc_layout() -> None:
    assert agg.classify_record(row("TX"), NUFORC, "us") == "TX"


def test_layouts_detected_from_headers() -> None:
    assert NUFORC.name == "nuforc"
    assert (NUFORC.state, NUFORC.country, NUFORC.width) == (2, None, 7)
    assert (KAGGLE.name, KAGGLE.state, KAGGLE.country, KAGGLE.width) == ("kaggle", 0, 1, 5)
    eleven = "datetime,city,state,country,shape,duration (seconds),duration (hours/min),comments"
    eleven += ",date posted,latitude,longitude"
    assert agg.detect_layout(eleven.split(",")).state == 2
    bom = agg.detect_layout(
        ["\ufeffDate / Time", "City", "State", "Shape", "Duration", "Summary", "Posted"]
    )
    assert bom.name == "nuforc"


def test_wrong_header_is_a_clear_error() -> None:
    with pytest.raises(agg.InputError, match=r"header \['id', 'name'\] is not a NUFORC export"):
        count("id,name\n1,x\n")


def test_empty_file_is_a_clear_error() -> None:
    with pytest.raises(agg.InputError, match="file is empty"):
        count("")


def test_multiline_quoted_fields_stay_one_record() -> None:
    # A line-based reader would see "CA" on a line of its own and a fragment with 1 field.
    text = HEADER + '1/1/19 20:00,Reno,NV,Light,5,"first line\nCA\nthird, line",1/2/19\n'
    counts = count(text)
    assert (counts.records, dict(counts.states), sum(counts.rejected.values())) == (1, {"NV": 1}, 0)


def test_doubled_quotes_and_commas_inside_fields() -> None:
    text = HEADER + '1/1/19,"Reno, ""Biggest"" little",NV,Light,5,"a ""b"", c",1/2/19\n'
    assert dict(count(text).states) == {"NV": 1}


def test_crlf_line_endings_give_the_same_counts() -> None:
    text = HEADER + '1/1/19,Reno,NV,Light,5,"x\ny",1/2/19\n' + HEADER + "1/1/19,Erie,PA,,,,1/2/19\n"
    lf, crlf = count(text), count(text.replace("\n", "\r\n"))
    assert (lf.states, lf.rejected, lf.records) == (crlf.states, crlf.rejected, crlf.records)
    assert dict(lf.rejected) == {"repeated_header": 1}


def test_gzip_is_detected_by_content() -> None:
    text = HEADER + "1/1/19,Reno,NV,Light,5,x,1/2/19\n"
    zipped = agg.count_stream(opener(gzip.compress(text.encode())))
    assert dict(zipped.states) == {"NV": 1}


def test_tab_delimiter() -> None:
    text = HEADER.replace(",", "\t") + "1/1/19\tReno, NV\tNV\tLight\t5\tx, y\t1/2/19\n"
    assert dict(count(text, delimiter="\t").states) == {"NV": 1}
    with pytest.raises(agg.InputError, match="not a NUFORC export"):
        count(text)


CP1252 = (HEADER + "1/1/19,Montr\xe9al,QC,Light,5,\u201cquoted\u201d,1/2/19\n").encode("cp1252")


def test_cp1252_bytes_fail_with_offset_and_hint_under_utf8() -> None:
    offset = CP1252.index(b"\xe9")
    with pytest.raises(agg.InputError) as info:
        agg.count_stream(opener(CP1252), agg.Options(encoding="utf-8"), source="x.csv")
    message = str(info.value)
    assert f"byte offset {offset}" in message
    assert "--encoding cp1252" in message
    assert "b'\\xe9'" in message


def test_cp1252_reads_with_its_encoding() -> None:
    counts = agg.count_stream(opener(CP1252), agg.Options(encoding="cp1252"))
    assert dict(counts.rejected) == {"not_us_state": 1}


def test_replacement_counts_undecodable_records() -> None:
    data = CP1252 + b"1/1/19,Reno,NV,Light,5,ok,1/2/19\n"
    counts = agg.count_stream(opener(data), agg.Options(decode_errors="replace"))
    assert dict(counts.states) == {"NV": 1}
    assert dict(counts.rejected) == {"undecodable_bytes": 1}


def test_decode_error_offset_counts_from_decompressed_start() -> None:
    data = b"abc" * 1000 + b"\xff"
    assert agg.find_decode_error(io.BytesIO(data), "utf-8") == (3000, b"\xff")
    assert agg.find_decode_error(io.BytesIO(data[:-1]), "utf-8") is None


def test_split_multibyte_character_across_chunks_is_not_an_error() -> None:
    data = b"a" * (agg._CHUNK - 1) + "\xe9".encode()
    assert agg.find_decode_error(io.BytesIO(data), "utf-8") is None


@pytest.mark.parametrize(("text", "value"), [(",", ","), ("tab", "\t"), ("\\t", "\t"), (";", ";")])
def test_parse_delimiter(text: str, value: str) -> None:
    assert agg.parse_delimiter(text) == value


@pytest.mark.parametrize("text", ["", ",,", '"', "\n"])
def test_parse_delimiter_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        agg.parse_delimiter(text)


def test_outputs_list_every_reason_and_sort_states() -> None:
    counts = count(
        HEADER + "".join(f"1/1/19,x,{s},,,,1/1/19\n" for s in ["NY", "CA", "NY", "ON", ""])
    )
    assert counts.state_rows() == [("NY", 2), ("CA", 1)]
    assert [r for r, _ in counts.rejected_rows()] == list(agg.REASONS)
    assert dict(counts.rejected_rows()) == {
        **dict.fromkeys(agg.REASONS, 0),
        "not_us_state": 1,
        "blank_state": 1,
    }


STATES = st.sampled_from(["CA", "ca", " NY", "ON", "", "PR", "TX ", "Date / Time"])
TEXT = st.text(alphabet=st.sampled_from('ab ,"\n\r\t;'), max_size=12)


@given(st.lists(st.tuples(STATES, TEXT, st.booleans()), max_size=30))
def test_every_record_is_counted_or_rejected(rows: list[tuple[str, str, bool]]) -> None:
    out = io.StringIO(newline="")
    # "\r\n" makes the writer quote fields holding either character (with "\n" it leaves "\r").
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER.strip().split(","))
    for state, summary, short in rows:
        writer.writerow(row(state, summary)[: 3 if short else 7])
    counts = count(out.getvalue())
    assert counts.records == len(rows)
    assert counts.counted + sum(counts.rejected.values()) == counts.records
    expected_us = sum(
        1 for s, _, short in rows if not short and s.strip().upper() in {"CA", "NY", "TX"}
    )
    assert counts.counted == expected_us


def rank(tmp_path: Path, text: str, top: int) -> str:
    """Run top_10's local run on a dataset holding ``text``; return its output part."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "part-00000.csv").write_text(text, encoding="utf-8")
    args = top_10.build_parser().parse_args(
        ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--top", str(top)]
    )
    top_10.rank_locally(args, local_lake.in_process)
    return (tmp_path / "out" / "part-00000.csv").read_text(encoding="utf-8")


def test_top_n_orders_by_count_then_code(tmp_path: Path) -> None:
    text = "state,sightings\nWA,5\nCA,9\nAZ,5\nNY,1\n"
    assert rank(tmp_path, text, 3) == "rank,state,sightings\n1,CA,9\n2,AZ,5\n3,WA,5\n"


def test_top_10_rejects_other_inputs() -> None:
    with pytest.raises(top_10.InputError, match="header"):
        top_10.parse_counts("reason,records\nx,1\n")
    with pytest.raises(top_10.InputError, match="line 2"):
        top_10.parse_counts("state,sightings\nCA,many\n")


@settings(max_examples=200, deadline=None)
@given(
    counts=st.dictionaries(st.sampled_from(sorted(agg.US_STATES)), st.integers(0, 20), min_size=1),
    top=st.integers(1, 12),
    ties=st.sampled_from([("cut", "stable"), ("include", "with_ties")]),
)
def test_top_10s_tie_rule_ranks_as_the_plugins_top_n(
    counts: dict[str, int], top: int, ties: tuple[str, Ties]
) -> None:
    # A script runs without luigi_ufo, so top_10 has its own short rule: it must be the plugin's.
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    script_ties, plugin_ties = ties
    ranked = top_n([Record((), (state,), n) for state, n in counts.items()], top, plugin_ties)
    expected = [(r.rank, r.key[0], r.measure) for r in ranked]
    assert top_10.cut(ordered, top, script_ties) == expected


def test_truncated_gzip_is_a_clear_error() -> None:
    data = gzip.compress((HEADER + "1/1/19,Reno,NV,Light,5,x,1/2/19\n" * 50).encode())
    with pytest.raises(agg.InputError, match="truncated"):
        agg.count_stream(opener(data[: len(data) // 2]))


def test_unbalanced_quote_names_the_line() -> None:
    text = HEADER + '1/1/19,Reno,NV,Light,5,"never closed,1/2/19\n' + "x" * 200_000 + "\n"
    with pytest.raises(agg.InputError, match="record starting at line 2 has a quote that is never"):
        count(text + "1/1/19,Reno,NV,Light,5,x,1/2/19\n")


def test_closed_multiline_last_record_is_malformed_not_an_open_quote() -> None:
    counts = count(HEADER + '1/1/19,Reno,"two\nlines"\n')
    assert dict(counts.rejected) == {"malformed_record": 1}


def test_large_fields_are_legitimate() -> None:
    # A 200 KB quoted field and a 10 MB line are above the csv module's default limit.
    big = HEADER + f'1/1/19,Reno,NV,Light,5,"{"y, " * 70_000}",1/2/19\n'
    line = HEADER + f"1/1/19,Reno,NV,Light,5,{'z' * 10_000_000},1/2/19\n"
    for text in (big, line):
        assert dict(count(text).states) == {"NV": 1}
    assert agg.csv.field_size_limit() == 131_072  # restored after reading


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rot13", "encoding 'rot13' is not a text encoding"),
        ("no-such-codec", "unknown encoding 'no-such-codec'"),
    ],
)
def test_bad_encoding_names_the_value_and_the_fix(name: str, message: str) -> None:
    with pytest.raises(agg.InputError, match=message) as info:
        count(HEADER, encoding=name)
    assert "such as utf-8, cp1252 or latin-1" in str(info.value)


@pytest.mark.parametrize("size", [0, 1])
def test_utf16_on_a_utf8_file_names_the_encoding_that_fits(size: int) -> None:
    # An even byte count decodes to CJK text (a wrong header); an odd one ends mid-character.
    text = HEADER + "1/1/19,Reno,NV,Light,5,x,1/2/19\n" + "a" * size
    with pytest.raises(agg.InputError, match="'utf-16'") as info:
        count(text, encoding="utf-16")
    assert "try --encoding utf-8" in str(info.value)


def test_bom_and_quoted_first_header_field() -> None:
    text = (
        '\ufeff"Date / Time",City,State,Shape,Duration,Summary,Posted\n1/1/19,Reno,NV,,,,1/2/19\n'
    )
    assert dict(count(text).states) == {"NV": 1}
    assert dict(count(text, encoding="UTF8").states) == {"NV": 1}


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-8-sig", "utf-16", "utf-8"])
def test_the_family_of_encodings_reads_with_its_own(encoding: str) -> None:
    text = HEADER + "1/1/19,Montr\xe9al,QC,,,,1/2/19\n1/1/19,Reno,NV,,,caf\xe9,1/2/19\n"
    counts = agg.count_stream(opener(text.encode(encoding)), agg.Options(encoding=encoding))
    assert (dict(counts.states), dict(counts.rejected)) == ({"NV": 1}, {"not_us_state": 1})


def test_all_rejected_names_the_dominant_reason_a_sample_and_the_file() -> None:
    # The case: every record has a trailing comma, so 8 fields instead of 7.
    text = HEADER + "".join(f"1/1/19,Reno,{s},Light,5,x,1/2/19,\n" for s in ["NV", "CA", "TX"])
    counts = agg.count_stream(opener(text.encode()), source="/in/export.csv")
    message = agg.rejected_fraction_error(counts, 1.0, source="/in")
    assert message is not None
    assert "3 of 3 records (all) were rejected" in message
    assert "most are 'malformed_record' (3)" in message
    assert "/in/export.csv, line 2: '1/1/19,Reno,NV,Light,5,x,1/2/19,'" in message
    assert "nothing was written" in message
    assert "--delimiter" in message


def test_rejected_fraction_threshold() -> None:
    text = HEADER + "".join(f"1/1/19,x,{s},,,,1/1/19\n" for s in ["NY", "ON", "ON", "ON", ""])
    counts = count(text)  # 4 of 5 rejected
    assert agg.rejected_fraction_error(counts, 1.0) is None
    assert agg.rejected_fraction_error(counts, 0.8) is None
    message = agg.rejected_fraction_error(counts, 0.5)
    assert message is not None
    assert "4 of 5 records (80.0%)" in message
    assert "most are 'not_us_state' (3)" in message


def test_an_export_without_records_is_refused_like_an_all_rejected_one() -> None:
    # A header alone would load an empty top-N over the date's good rows, at any threshold.
    for limit in (1.0, 0.0):
        message = agg.rejected_fraction_error(count(HEADER), limit, source="/in/export.csv")
        assert message is not None
        assert message.startswith("/in/export.csv: no records after the header")
        assert "nothing was written" in message


@pytest.mark.parametrize("text", ["-0.1", "1.5", "x"])
def test_parse_fraction_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="from 0 to 1"):
        agg.parse_fraction(text)


def test_counts_of_files_add_up_keeping_the_first_sample_of_each_reason() -> None:
    first = count(HEADER + "1/1/19,x,NY,,,,1/1/19\n1/1/19,x,ON,,,,1/1/19\n\n")
    second = agg.count_stream(
        opener(b"Date / Time,City,State,Shape,Duration,Summary,Posted\n1/1/19,y,QC,,,,1/1/19\n"),
        source="b.csv",
    )
    total = agg.FileCounts().add(first).add(second).add(first)
    assert (total.states, total.records) == (Counter({"NY": 2}), 7)
    assert total.rejected == Counter({"not_us_state": 3, "blank_line": 2})
    assert total.samples == first.samples
    assert second.samples["not_us_state"].startswith("b.csv, line 2: ")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ufo_exports.exports)
def test_generated_exports_match_an_independent_r1_count(export: ufo_exports.Export) -> None:
    counts = agg.count_stream(opener(ufo_exports.render(export)))
    want = ufo_exports.expected(export)
    assert counts.records == want.records
    assert counts.counted + sum(counts.rejected.values()) == counts.records
    assert counts.states == want.states
    assert counts.rejected["blank_line"] == want.blank_lines
    assert counts.rejected["malformed_record"] == want.malformed
