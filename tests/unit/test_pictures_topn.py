"""The top-N chart: who is tied at the cut, and what the SVG holds (ids, texts)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luigi_ufo.pictures import Cut, TopNRow, find_cut, topn_chart
from luigi_ufo.pictures.topn import format_value
from luigi_ufo.postgres.ranking.rules import Record, top_n
from luigi_ufo.ufo.results import tied_beyond_cut
from tests.svg_elements import ids_and_texts, texts

# The measures of docs/postgres-topn.md's tie example: CA 13, FL 6, TX 5, WA 5, NY 2 and n = 3.
ALL = [("CA", 13), ("FL", 6), ("TX", 5), ("WA", 5), ("NY", 2)]


def rows(*kept: tuple[str, int, int]) -> list[TopNRow]:
    return [TopNRow(label, value, rank) for label, value, rank in kept]


def test_stable_keeps_n_rows_and_the_left_out_row_at_the_cut_is_found() -> None:
    cut = find_cut(rows(("CA", 13, 1), ("FL", 6, 2), ("TX", 5, 3)), 3, ALL)
    assert cut == Cut(5, ("TX",), (TopNRow("WA", 5, 0),))
    assert cut.is_tie


def test_with_ties_keeps_both_rows_at_the_cut() -> None:
    kept = rows(("CA", 13, 1), ("FL", 6, 2), ("TX", 5, 3), ("WA", 5, 3))
    assert find_cut(kept, 3, ALL) == Cut(5, ("TX", "WA"), ())


def test_no_tie_when_the_nth_value_is_alone() -> None:
    kept = rows(("CA", 13, 1), ("FL", 6, 2))
    assert find_cut(kept, 2, ALL) == Cut(6, (), ())


def test_equal_rows_above_the_cut_are_no_tie_at_the_cut() -> None:
    # 10, 8, 8 with n = 3 and nothing left out at 8: both 8s are kept whatever the rule.
    kept = rows(("A", 10, 1), ("B", 8, 2), ("C", 8, 3))
    assert not find_cut(kept, 3, [("A", 10), ("B", 8), ("C", 8), ("D", 1)]).is_tie


def test_dense_ranks_past_n_rows_for_a_tie_at_the_last_rank() -> None:
    # dense, n = 3: 10, 9, 8, 8 are ranks 1, 2, 3, 3: four rows, the cut shared by two.
    kept = rows(("A", 10, 1), ("B", 9, 2), ("C", 8, 3), ("D", 8, 3))
    assert find_cut(kept, 3).tied == ("C", "D")


def test_no_rows_no_cut() -> None:
    assert find_cut([], 3) == Cut(None, (), ())


@pytest.mark.parametrize(
    ("value", "text"),
    [(13513, "13,513"), (5.0, "5"), (Decimal("12.50"), "12.5"), (0.125, "0.125")],
)
def test_values_are_written_as_a_person_reads_them(value: object, text: str) -> None:
    assert format_value(value) == text  # type: ignore[arg-type]


def test_the_chart_names_each_bar_label_rank_and_value() -> None:
    kept = rows(("CA", 13, 1), ("FL", 6, 2), ("TX", 5, 3))
    svg = topn_chart(kept, 3, others=ALL, title="Top 3", value_label="sightings")
    found = ids_and_texts(svg)
    assert svg.startswith('<svg id="topn-chart"')
    assert [found[f"topn-chart-label-{i}"] for i in range(3)] == ["CA", "FL", "TX"]
    assert [found[f"topn-chart-value-{i}"] for i in range(3)] == ["13", "6", "5"]
    assert [found[f"topn-chart-rank-{i}"] for i in range(3)] == ["1", "2", "3"]
    assert {f"topn-chart-bar-{i}" for i in range(3)} <= found.keys()
    assert "topn-chart-bar-3" not in found
    # WA ties TX at the cut but was not kept: an empty bar, and the legend says why.
    assert "topn-chart-left-out-0" in found
    assert "not kept, tied at place 3 (5)" in found["topn-chart-tie-legend"]
    # Text stays text (svg.fonttype none), so a reader can search and copy it.
    assert texts(svg) >= {"CA", "FL", "TX", "Top 3", "sightings"}


def test_a_chart_without_a_tie_has_no_tie_legend() -> None:
    svg = topn_chart(rows(("CA", 13, 1), ("FL", 6, 2)), 2, others=ALL, name="t2")
    assert "t2-tie-legend" not in ids_and_texts(svg)
    assert "t2-left-out-0" not in ids_and_texts(svg)


def test_labels_are_escaped_in_the_svg() -> None:
    svg = topn_chart(rows(("<b>&", 3, 1)), 1)
    assert ids_and_texts(svg)["topn-chart-label-0"] == "<b>&"  # parsed back: it was escaped


def test_the_same_rows_give_the_same_bytes() -> None:
    kept = rows(("CA", 13, 1), ("FL", 6, 2))
    assert topn_chart(kept, 2) == topn_chart(kept, 2)


def test_a_name_that_is_not_an_html_id_is_refused() -> None:
    with pytest.raises(ValueError, match="is not an HTML id"):
        topn_chart(rows(("CA", 1, 1)), 1, name="two words")


@settings(max_examples=200, deadline=None)
@given(
    counts=st.dictionaries(
        st.sampled_from(["AK", "AZ", "CA", "FL", "IL", "NY", "OH", "OR", "PA", "TX", "VA", "WA"]),
        st.integers(min_value=1, max_value=6),
    ),
    n=st.integers(min_value=1, max_value=13),
)
def test_the_charts_cut_agrees_with_the_runs_tied_beyond_cut(
    counts: dict[str, int], n: int
) -> None:
    # The run's JSON (the ranking rule's with_ties) and the chart (any table's rows) must name the
    # same states as tied at the cut and left out, for every table the stable rule keeps.
    states = sorted(counts.items())
    kept = [
        (r.rank, r.key[0], int(r.measure))
        for r in top_n([Record((), (s,), c) for s, c in states], n, "stable")
    ]
    cut = find_cut(rows(*((s, c, rank) for rank, s, c in kept)), n, states)
    assert [(r.label, r.value) for r in cut.left_out] == tied_beyond_cut(states, kept)
