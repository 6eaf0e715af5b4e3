"""DatedTarget.remove_flag on a local root: the date becomes incomplete, its parts stay."""

from __future__ import annotations

import datetime
from pathlib import Path

from luigi_ufo.dated import DatedTarget

DAY = datetime.date(2024, 1, 15)


def test_remove_flag_makes_only_that_date_incomplete(tmp_path: Path) -> None:
    root = str(tmp_path / "clicks")
    target = DatedTarget(root, DAY)
    other = DatedTarget(root, DAY + datetime.timedelta(days=1))
    for t in (target, other):
        with t.writer() as writer:
            writer.write_text("part-00000.csv", "a,1\n")
    target.remove_flag()
    assert not target.exists()
    assert not (tmp_path / "clicks" / "2024-01-15" / "_SUCCESS").exists()
    assert list(target.iter_parts()) == ["part-00000.csv"]
    assert other.exists()
    assert DatedTarget.complete_dates(root, [target.date, other.date]) == {other.date}


def test_remove_flag_without_flag_or_directory_is_a_no_op(tmp_path: Path) -> None:
    target = DatedTarget(str(tmp_path / "none"), DAY, flag="_DONE")
    target.remove_flag()
    assert not target.exists()
    assert not (tmp_path / "none").exists()
