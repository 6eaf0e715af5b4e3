"""The gaps calendar: its grid, its terminal and SVG pictures, for a known set of dates."""

from __future__ import annotations

import datetime

from rich.console import Console

from luigi_ufo.dated import Gaps
from luigi_ufo.pictures import calendar_text, gaps_calendar
from luigi_ufo.pictures.calendar_grid import date_runs, describe_runs, year_rows
from luigi_ufo.pictures.calendar_svg import COLOURS
from tests.svg_elements import parse

D = datetime.date
START, END = D(2023, 12, 20), D(2024, 1, 12)
MISSING = (D(2023, 12, 24), D(2023, 12, 25), D(2024, 1, 3))
UNFLAGGED = (D(2023, 12, 31), D(2024, 1, 7))


def days(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=i) for i in range((last - first).days + 1)]


GAPS = Gaps(
    start=START,
    end=END,
    complete=tuple(d for d in days(START, END) if d not in MISSING + UNFLAGGED),
    missing=MISSING,
    incomplete=UNFLAGGED,
    requests=1,
)


def mondays_after_new_year(date: datetime.date) -> int:
    """Count the Mondays after January 1st up to ``date``: its week column, counted naively."""
    return sum(1 for d in days(D(date.year, 1, 2), date) if d.weekday() == 0)


def test_each_year_is_a_row_of_its_days_in_week_columns() -> None:
    rows = year_rows(GAPS)
    assert [row.year for row in rows] == [2023, 2024]
    assert [len(row.days) for row in rows] == [365, 366]
    for row in rows:
        for day in row.days:
            assert day.week == mondays_after_new_year(day.date), day
            assert day.weekday == day.date.weekday()
    states = {day.date: day.state for row in rows for day in row.days}
    assert {d for d, s in states.items() if s == "missing"} == set(MISSING)
    assert {d for d, s in states.items() if s == "unflagged"} == set(UNFLAGGED)
    assert {d for d, s in states.items() if s == "complete"} == set(GAPS.complete)
    assert states[D(2023, 12, 19)] == states[D(2024, 1, 13)] == "outside"


def test_runs_of_dates_are_described_compactly() -> None:
    assert date_runs(MISSING) == [(D(2023, 12, 24), D(2023, 12, 25)), (D(2024, 1, 3),) * 2]
    assert describe_runs(MISSING) == "2023-12-24..2023-12-25, 2024-01-03"
    assert describe_runs(()) == "none"


def test_the_terminal_calendar_marks_each_state_and_lists_the_gaps() -> None:
    console = Console(record=True, width=100, color_system=None)
    console.print(calendar_text(GAPS, title="lake/clicks"))
    text = console.export_text()
    lines = text.splitlines()
    assert lines[0] == "lake/clicks"
    assert "24 days" in lines[1]
    assert lines[1].endswith("3 missing, 2 unflagged")
    assert lines[-1] == "checked with 1 storage request"
    assert "missing: 2023-12-24..2023-12-25, 2024-01-03" in lines
    assert "unflagged: 2023-12-31, 2024-01-07" in lines
    # 2024's block: Wednesday's line holds January 3rd (missing) in week column 0.
    block = lines[lines.index(next(line for line in lines if line.startswith("2024 "))) :]
    wednesday = block[3]
    assert wednesday.startswith("Wed  x")
    # 2023's Sunday line ends with the 24th and 31st: missing, then unflagged (no colour needed).
    year_2023 = lines.index(next(line for line in lines if line.startswith("2023 ")))
    sunday = lines[year_2023 + 7]
    assert sunday.startswith("Sun")
    assert sunday.rstrip().endswith("x▒")


def test_the_svg_calendar_colours_each_day_of_the_range_by_its_state() -> None:
    root = parse(gaps_calendar(GAPS, title="lake/clicks"))
    fills = {}
    for element in root.iter():
        name = element.attrib.get("id", "")
        if name.startswith("gaps-calendar-day-") or name.startswith("gaps-calendar-legend-"):
            (path,) = [child for child in element if child.tag.endswith("path")]
            fills[name] = style_fill(path.attrib["style"])
    legend = {s: fills[f"gaps-calendar-legend-{s}"] for s in ("complete", "missing", "unflagged")}
    assert legend == {s: COLOURS[s] for s in legend}
    drawn = {
        D.fromisoformat(name.removeprefix("gaps-calendar-day-")): fill
        for name, fill in fills.items()
        if name.startswith("gaps-calendar-day-")
    }
    assert sorted(drawn) == days(START, END)  # the range's days have ids, no other day has
    by_state = {s: {d for d, fill in drawn.items() if fill == legend[s]} for s in legend}
    assert by_state == {
        "complete": set(GAPS.complete),
        "missing": set(MISSING),
        "unflagged": set(UNFLAGGED),
    }


def style_fill(style: str) -> str:
    values = dict(part.strip().split(": ", 1) for part in style.split(";") if part.strip())
    return values["fill"]
