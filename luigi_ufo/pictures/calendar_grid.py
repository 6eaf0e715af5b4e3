"""The year-per-row calendar of a dated dataset's gaps, as plain data (no drawing).

Each year of the range is a row of week columns (weeks start on Monday, as ISO weeks do) and
weekday lines, like a wall-calendar year strip. Each day of the range is ``complete`` (its
success flag exists), ``missing`` (no object at all) or ``unflagged`` (objects but no flag:
half-written, or written by something that never flags); days of those years outside the range
are ``outside``. The SVG (:mod:`~luigi_ufo.pictures.calendar_svg`) and terminal
(:mod:`~luigi_ufo.pictures.calendar_terminal`) pictures both draw this grid.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from luigi_ufo.dated import Gaps

COMPLETE, MISSING, UNFLAGGED, OUTSIDE = STATES = ("complete", "missing", "unflagged", "outside")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Day:
    """One cell: a date, its state, its week column and weekday line (0 is Monday)."""

    date: datetime.date
    state: str
    week: int
    weekday: int


@dataclass(frozen=True)
class YearRow:
    """The days of one calendar year, January 1st to December 31st, in date order."""

    year: int
    days: tuple[Day, ...]

    @property
    def weeks(self) -> int:
        """Return the number of week columns (53 or 54)."""
        return self.days[-1].week + 1

    def month_starts(self) -> list[tuple[int, int]]:
        """Return (month, week column of its first day) for each month."""
        return [(d.date.month, d.week) for d in self.days if d.date.day == 1]


def day_states(gaps: Gaps) -> dict[datetime.date, str]:
    """Return the state of each date of ``gaps``' range."""
    states = dict.fromkeys(gaps.complete, COMPLETE)
    states.update(dict.fromkeys(gaps.missing, MISSING))
    states.update(dict.fromkeys(gaps.incomplete, UNFLAGGED))
    return states


def year_rows(gaps: Gaps) -> list[YearRow]:
    """Return one row per calendar year the range of ``gaps`` touches."""
    states = day_states(gaps)
    rows = []
    for year in range(gaps.start.year, gaps.end.year + 1):
        first = datetime.date(year, 1, 1)
        monday = first - datetime.timedelta(days=first.weekday())
        days = []
        for date in _days(first, datetime.date(year, 12, 31)):
            week = (date - monday).days // 7
            days.append(Day(date, states.get(date, OUTSIDE), week, date.weekday()))
        rows.append(YearRow(year, tuple(days)))
    return rows


def date_runs(dates: Iterable[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    """Return consecutive ``dates`` as (first, last) runs, in order."""
    runs: list[tuple[datetime.date, datetime.date]] = []
    for date in sorted(set(dates)):
        if runs and date - runs[-1][1] == datetime.timedelta(days=1):
            runs[-1] = (runs[-1][0], date)
        else:
            runs.append((date, date))
    return runs


def describe_runs(dates: Iterable[datetime.date]) -> str:
    """Return ``dates`` as ``2024-01-03..2024-01-05, 2024-02-10`` ("none" when empty)."""
    runs = date_runs(dates)
    return ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in runs) or "none"


def counts_line(gaps: Gaps) -> str:
    """Return the range and how many of its dates are complete, missing and unflagged."""
    days = (gaps.end - gaps.start).days + 1
    return (
        f"{gaps.start}..{gaps.end} ({days} days): {len(gaps.complete)} complete, "
        f"{len(gaps.missing)} missing, {len(gaps.incomplete)} unflagged"
    )


def requests_line(gaps: Gaps) -> str:
    """Return how many storage requests the check made."""
    return f"{gaps.requests} storage request{'s' if gaps.requests != 1 else ''}"


def summary(gaps: Gaps) -> str:
    """Return one line: how many dates are complete, missing, unflagged, and the requests."""
    return f"{counts_line(gaps)}; {requests_line(gaps)}"


def _days(first: datetime.date, last: datetime.date) -> Iterator[datetime.date]:
    for i in range((last - first).days + 1):
        yield first + datetime.timedelta(days=i)
