"""Top-N ranking by value and against a naive reference implementation."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luigi_ufo.errors import BadInputError, InvalidSpecError
from luigi_ufo.postgres.ranking.rules import TIES, Ranked, Record, top_n


def rec(key: str, measure: Any, group: tuple[Any, ...] = ()) -> Record:
    return Record(group=group, key=(key,), measure=measure, where="f.csv:2")


def keys_ranks(rows: list[Ranked]) -> list[tuple[str, int]]:
    return [(r.key[0], r.rank) for r in rows]


TIED = [rec("d", 5), rec("a", 9), rec("c", 7), rec("b", 7), rec("e", 5), rec("f", 1)]


def test_stable_orders_by_measure_desc_then_key_asc() -> None:
    assert keys_ranks(top_n(TIED, 4)) == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]


def test_with_ties_keeps_everything_tied_at_n_with_competition_ranks() -> None:
    # The 4th row has measure 5; "e" ties with it, so 5 rows are kept; ranks skip after ties.
    assert keys_ranks(top_n(TIED, 4, "with_ties")) == [
        ("a", 1),
        ("b", 2),
        ("c", 2),
        ("d", 4),
        ("e", 4),
    ]
    assert keys_ranks(top_n(TIED, 2, "with_ties")) == [("a", 1), ("b", 2), ("c", 2)]


def test_dense_keeps_the_n_greatest_distinct_measures() -> None:
    assert keys_ranks(top_n(TIED, 3, "dense")) == [
        ("a", 1),
        ("b", 2),
        ("c", 2),
        ("d", 3),
        ("e", 3),
    ]


def test_n_larger_than_rows_keeps_all() -> None:
    assert len(top_n(TIED, 100)) == len(TIED)
    assert top_n([], 3) == []


def test_groups_are_ranked_separately_and_listed_in_group_order() -> None:
    rows = [
        rec("x", 1, ("us",)),
        rec("y", 3, ("ca",)),
        rec("z", 2, ("us",)),
        rec("w", 4, ("ca",)),
        rec("v", 0, ("us",)),
    ]
    out = top_n(rows, 2)
    assert [(r.group[0], r.key[0], r.rank) for r in out] == [
        ("ca", "w", 1),
        ("ca", "y", 2),
        ("us", "z", 1),
        ("us", "x", 2),
    ]


def test_mixed_numeric_types_compare_by_value() -> None:
    rows = [rec("a", 2), rec("b", 2.5), rec("c", Decimal("3.25")), rec("d", 2.0)]
    assert keys_ranks(top_n(rows, 4, "with_ties")) == [("c", 1), ("b", 2), ("a", 3), ("d", 3)]


@pytest.mark.parametrize("n", [0, -1, True, 1.5, "3", None])
def test_n_must_be_a_positive_int(n: Any) -> None:
    with pytest.raises(InvalidSpecError, match=r"positive integer n, got"):
        top_n(TIED, n)


def test_unknown_tie_rule_is_refused() -> None:
    with pytest.raises(InvalidSpecError, match=r"unknown tie rule 'random'"):
        top_n(TIED, 1, "random")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("measure", "message"),
    [
        (None, r"measure is null at f\.csv:2 \(key \('k',\)\)"),
        ("12", r"measure '12' at f\.csv:2 .* is not a number"),
        (True, r"measure True at f\.csv:2 .* is not a number"),
        (math.nan, r"measure nan at f\.csv:2 .* is not finite"),
        (-math.inf, r"measure -inf .* is not finite"),
        (Decimal("NaN"), r"measure Decimal\('NaN'\) .* is not finite"),
    ],
)
def test_bad_measures_are_rejected_with_location(measure: Any, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        top_n([rec("a", 1), rec("k", measure)], 5)


def test_repeated_key_in_a_group_is_bad_input() -> None:
    with pytest.raises(BadInputError, match=r"key \('a',\) appears twice in group \(\)"):
        top_n([rec("a", 1), rec("a", 2)], 5)
    # The same key in two groups is fine.
    assert len(top_n([rec("a", 1, ("x",)), rec("a", 2, ("y",))], 5)) == 2


def test_incomparable_keys_are_bad_input() -> None:
    rows = [Record((), ("a",), 1), Record((), (1,), 1)]
    with pytest.raises(BadInputError, match=r"cannot be ordered"):
        top_n(rows, 2)


def reference(records: list[Record], n: int, ties: str) -> list[tuple[Any, ...]]:
    """Rank by counting, row by row: no sorting tricks shared with the implementation."""
    out = []
    for r in records:
        peers = [p for p in records if p.group == r.group]
        greater = [p for p in peers if p.measure > r.measure]
        if ties == "stable":
            rank = (
                1 + len(greater) + sum(1 for p in peers if p.measure == r.measure and p.key < r.key)
            )
        elif ties == "with_ties":
            rank = 1 + len(greater)
        else:
            rank = 1 + len({p.measure for p in greater})
        if rank <= n:
            out.append((r.group, rank, r.key, r.measure))
    return sorted(out)


unique_rows = st.lists(
    st.tuples(
        st.sampled_from(["g1", "g2", "g3"]),
        st.text(alphabet="abcXYZ\u00e9\u2603 ", min_size=1, max_size=3),
        st.one_of(st.integers(-5, 5), st.sampled_from([0.5, 2.5, -1.5])),
    ),
    max_size=40,
    unique_by=lambda t: (t[0], t[1]),
)


@settings(max_examples=300, deadline=None)
@given(rows=unique_rows, n=st.integers(1, 12), ties=st.sampled_from(TIES))
def test_matches_naive_reference(rows: list[tuple[str, str, Any]], n: int, ties: str) -> None:
    records = [Record((g,), (k,), m) for g, k, m in rows]
    got = top_n(records, n, ties)  # type: ignore[arg-type]
    assert sorted((r.group, r.rank, r.key, r.measure) for r in got) == reference(records, n, ties)
    # Output order: group, then rank, then key.
    assert [(r.group, r.rank, r.key) for r in got] == sorted((r.group, r.rank, r.key) for r in got)
    if ties == "stable":
        for group in {r.group for r in records}:
            size = sum(1 for r in records if r.group == group)
            assert [r.rank for r in got if r.group == group] == list(range(1, min(n, size) + 1))


@pytest.mark.parametrize("ties", TIES)
def test_small_n_of_many_rows_matches_reference(ties: str) -> None:
    # n * 4 < rows takes the heap path; the tie at the cut (two rows of 148) must survive it.
    records = [Record((), (f"k{i:03d}",), i // 2) for i in range(300)]
    got = top_n(records, 3, ties)  # type: ignore[arg-type]
    assert sorted((r.group, r.rank, r.key, r.measure) for r in got) == reference(records, 3, ties)
    assert len(got) == {"stable": 3, "with_ties": 4, "dense": 6}[ties]
