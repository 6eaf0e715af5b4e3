"""Bulk completeness never counts a date complete without its flag (local directory)."""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from luigi_ufo.dated import DatedDataset

STATES = st.sampled_from(["missing", "parts", "flag", "flag_only", "temporary"])
BASE = datetime.date(2024, 2, 20)


def _write(root: Path, day: datetime.date, state: str) -> None:
    part = root / day.isoformat()
    if state == "missing":
        return
    part.mkdir(parents=True)
    if state in ("parts", "flag"):
        (part / "part-00000.csv").write_text("x\n")
    if state in ("flag", "flag_only"):
        (part / "_SUCCESS").touch()
    if state == "temporary":
        (part / "_temporary").mkdir()
        (part / "_temporary" / "_SUCCESS").touch()  # a nested flag is not the flag


@settings(deadline=None, max_examples=60)
@given(
    states=st.lists(STATES, min_size=1, max_size=20), lo=st.integers(0, 19), n=st.integers(0, 20)
)
def test_complete_dates_is_exactly_the_flagged_dates(states: list[str], lo: int, n: int) -> None:
    days = [BASE + datetime.timedelta(days=i) for i in range(len(states))]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for day, state in zip(days, states, strict=True):
            _write(root, day, state)
        (root / "2024-02-30").mkdir(exist_ok=True)
        (root / "2024-02-30" / "_SUCCESS").touch()
        asked = days[lo : lo + n]
        dataset = DatedDataset(str(root))
        flagged = {d for d, s in zip(days, states, strict=True) if s in ("flag", "flag_only")}
        assert dataset.complete_dates(asked) == flagged & set(asked)
        assert dataset.storage.requests == (1 if asked else 0)
        if asked:
            gaps = dataset.gaps(min(asked), max(asked))
            assert set(gaps.complete) | set(gaps.missing) | set(gaps.incomplete) == set(asked)
            assert set(gaps.incomplete) == {
                d for d, s in zip(days, states, strict=True) if s in ("parts", "temporary")
            } & set(asked)
