"""Issue 24: every public NUFORC layout by column name, any CSV by option, ties at the cut."""

from __future__ import annotations

import csv
import datetime
import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from luigi_ufo.scripts import nuforc

from luigi_ufo.cli.pipeline import render_table
from luigi_ufo.errors import InputFormatError
from luigi_ufo.ufo.inputs import check_export
from luigi_ufo.ufo.results import RunSummary, tied_beyond_cut
from luigi_ufo.ufo.tasks import AggregateUFOsByState, TopStatesToDatabase, TopTenStates
from tests import ufo_layouts
from tests.reference_scripts import local_lake, top_10
from tests.ufo_layouts import EXCERPTS, PAIRS, Excerpt


def options_of(excerpt: Excerpt) -> nuforc.Options:
    named = dict(zip(excerpt.options[::2], excerpt.options[1::2], strict=True))
    return nuforc.Options(
        state_column=named.get("--state-column", ""),
        country_column=named.get("--country-column", ""),
    )


@pytest.mark.parametrize("excerpt", EXCERPTS, ids=[e.name for e in EXCERPTS])
def test_each_layout_gives_the_hand_count(tmp_path: Path, excerpt: Excerpt) -> None:
    path = excerpt.write(tmp_path / f"{excerpt.name}.csv")
    counts = nuforc.count_file(str(path), options_of(excerpt))
    assert counts.states == excerpt.expected()
    assert counts.counted + sum(counts.rejected.values()) == counts.records
    layout = check_export(
        str(path),
        encoding="utf-8",
        delimiter=",",
        state_column=options_of(excerpt).state_column,
        country_column=options_of(excerpt).country_column,
    )
    assert (layout.country is None) == (excerpt.country is None)
    assert ("no country column found" in layout.describe()) == (excerpt.country is None)


@pytest.mark.parametrize(
    ("value", "counted"),
    [
        *[("US", True), ("us", True), ("USA", True), ("United States", True), ("u.s.a.", True)],
        *[("", True), ("CA", False), ("gb", False), ("Canada", False)],
    ],
)
def test_us_spellings_count_in_any_country_column(value: str, counted: bool) -> None:
    for column in ("country", "country_code", " Country_CODE "):
        layout = nuforc.detect_layout(["state", column])
        assert (nuforc.classify_record(["TX", value], layout) == "TX") == counted
    layout = nuforc.detect_layout(["state", "country"])
    assert nuforc.classify_record(["TX", value], layout, "any") == "TX"
    assert (nuforc.classify_record(["TX", value], layout, "us") == "TX") == (
        counted and value != ""
    )


def test_country_is_preferred_to_country_code_and_a_named_column_wins() -> None:
    header = ["country_code", "State", "Country"]
    assert nuforc.detect_layout(header).country == 2
    assert nuforc.detect_layout(header, country_column=" COUNTRY_Code").country == 0
    assert nuforc.detect_layout(["Region"], state_column=" region ").state == 0


@pytest.mark.parametrize(
    ("header", "options", "missing"),
    [
        ("when,where,region,form", {}, "'state'"),
        ("when,where,state", {"state_column": "Region"}, "'Region'"),
        ("when,state,country", {"country_column": "nation"}, "'nation'"),
    ],
)
def test_an_unknown_header_lists_its_columns_and_names_the_options(
    tmp_path: Path, header: str, options: dict[str, str], missing: str
) -> None:
    # ~500 KB: above the megabyte-hint's old failure (the csv module's 128 KiB field limit).
    path = tmp_path / "renamed.csv"
    path.write_text(header + "\n" + "1/1/19,Town,CA\n" * 35_000, encoding="utf-8")
    with pytest.raises(InputFormatError) as raised:
        check_export(str(path), encoding="utf-8", delimiter=",", **options)
    message = str(raised.value)
    assert f"no column {missing}" in message
    found = ", ".join(repr(name) for name in header.split(","))
    assert f"(columns found: {found})" in message
    assert "--state-column NAME" in message
    assert "--country-column NAME" in message
    with pytest.raises(nuforc.InputError, match="--state-column NAME"):
        nuforc.count_file(str(path), nuforc.Options(**options))


def test_a_real_size_unknown_header_in_another_encoding_is_refused_not_crashed(
    tmp_path: Path,
) -> None:
    # The encoding hint decodes the first MB as utf-16: one field far above 128 KiB.
    path = tmp_path / "renamed.csv"
    path.write_bytes(b"a,b,c\n" + b"1,2,3\n" * 200_000)
    with pytest.raises(InputFormatError, match=r"columns found: 'a', 'b', 'c'"):
        check_export(str(path), encoding="utf-8", delimiter=",")


def rename(name: str, how: int) -> str:
    """Re-case and re-space a column name (``how`` picks the variant)."""
    cased = [name, name.upper(), name.title(), name.swapcase()][how % 4]
    return [cased, f" {cased} ", cased.replace("_", " _ "), f"{cased[:1]} {cased[1:]}"][how // 4]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    excerpt=st.sampled_from([e for e in EXCERPTS if not e.options]),
    data=st.data(),
    pairs=st.lists(st.sampled_from(PAIRS), max_size=25),
)
def test_permuting_recasing_and_respacing_columns_never_changes_the_answer(
    excerpt: Excerpt, data: st.DataObject, pairs: list[tuple[str, str]]
) -> None:
    order = data.draw(st.permutations(range(len(excerpt.header))))
    hows = data.draw(st.lists(st.integers(0, 15), min_size=len(excerpt.header)))
    header = [rename(excerpt.header[i], hows[i]) for i in order]
    width = len(header)  # a ragged record keeps its extra fields, so it stays ragged
    records = [[r[i] for i in order] + r[width:] for r in excerpt.records(pairs)]
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([header, *records])
    counts = nuforc.count_stream(lambda: io.BytesIO(out.getvalue().encode()), nuforc.Options())
    assert counts.states == excerpt.expected(pairs)
    assert counts.rejected.get("repeated_header", 0) == (excerpt.name == "nuforc-index")


def test_ties_at_the_cut_are_listed_by_code() -> None:
    counts = EXCERPTS[0].expected()
    top = [(rank, s, n) for rank, (s, n) in enumerate(ufo_layouts.top(counts), 1)]
    assert top[-1][2] == 2
    left = tied_beyond_cut(sorted(counts.items()), top)
    assert (
        left == ufo_layouts.tied_beyond_cut(counts) == [("OH", 2), ("OR", 2), ("PA", 2), ("VA", 2)]
    )
    assert tied_beyond_cut([("CA", 3), ("WA", 2), ("TX", 1)], [(1, "CA", 3), (2, "WA", 2)]) == []
    assert tied_beyond_cut([], []) == []


def test_the_table_and_json_show_the_tie_and_the_missing_country_column() -> None:
    summary = RunSummary(
        datetime.date(2024, 5, 1),
        top=[(1, "CA", 3), (2, "TX", 2)],
        counted=7,
        rejected={"blank_state": 1},
        tied_beyond_cut=[("WA", 2)],
    )
    doc = summary.as_json()
    assert doc["tied_beyond_cut"] == [{"state": "WA", "sightings": 2}]
    doc["layout"] = nuforc.detect_layout(["State"]).describe()
    table = render_table(doc)
    assert "tied at the cut, left out (by state code): WA 2" in table
    assert "no country column found" in table
    untied = RunSummary(summary.date, summary.top, 7, {}).as_json()
    assert untied["tied_beyond_cut"] == []
    assert "tied at the cut" not in render_table(untied)


def test_the_hand_count_is_what_the_excerpts_say() -> None:
    # The shared pairs: ten states tie at the 10th place (count 2), so four are left out.
    counts = EXCERPTS[1].expected()
    assert counts == Counter(
        {
            "CA": 7,
            "WA": 5,
            "TX": 4,
            "NY": 4,
            "WY": 1,
            **dict.fromkeys(["AZ", "FL", "GA", "IL", "MI", "NC", "OH", "OR", "PA", "VA"], 2),
        }
    )


@pytest.mark.parametrize(
    ("ties", "top", "expected"),
    [
        ("cut", 2, "1,CA,9\n2,AZ,5\n"),
        ("include", 2, "1,CA,9\n2,AZ,5\n2,TX,5\n2,WA,5\n"),
        ("include", 1, "1,CA,9\n"),
        ("include", 9, "1,CA,9\n2,AZ,5\n2,TX,5\n2,WA,5\n5,NY,1\n"),
    ],
)
def test_top_10_ties_include_keeps_every_state_tied_at_the_cut_with_one_rank(
    tmp_path: Path, ties: str, top: int, expected: str
) -> None:
    (tmp_path / "in").mkdir()
    text = "state,sightings\nWA,5\nCA,9\nTX,5\nAZ,5\nNY,1\n"
    (tmp_path / "in" / "part-00000.csv").write_text(text, encoding="utf-8")
    argv = ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")]
    args = top_10.build_parser().parse_args([*argv, "--top", str(top), "--ties", ties])
    top_10.rank_locally(args, local_lake.in_process)
    written = (tmp_path / "out" / "part-00000.csv").read_text(encoding="utf-8")
    assert written == "rank,state,sightings\n" + expected


def test_ties_setting_reaches_the_script_and_the_database_task(
    luigi_config: Callable[[str, str, str], None],
) -> None:
    date = datetime.date(2024, 5, 1)
    assert "--ties" not in TopTenStates(date=date).app_options()
    assert (TopStatesToDatabase(date=date).ties, TopStatesToDatabase(date=date).table) == (
        "stable",
        "ufo_top_states",
    )
    assert "--state-column" not in AggregateUFOsByState(date=date).app_options()
    luigi_config("ufo", "ties", "include")
    luigi_config("ufo", "state_column", "Region")
    luigi_config("ufo", "country_column", "Nation")
    argv = TopTenStates(date=date).app_options()
    assert argv[argv.index("--ties") + 1] == "include"
    task = TopStatesToDatabase(date=date)
    assert (task.ties, task.table) == ("with_ties", "ufo_top_states_with_ties")
    argv = AggregateUFOsByState(date=date).app_options()
    assert argv[argv.index("--state-column") + 1] == "Region"
    assert argv[argv.index("--country-column") + 1] == "Nation"
