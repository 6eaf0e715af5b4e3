"""The gaps calendar of a dated dataset for a terminal (rich): a year per block, a mark per day.

Each state has its own mark as well as its own colour, so the picture reads without colour too
(``NO_COLOR``, a log file): ``■`` complete, ``x`` missing, ``▒`` unflagged, ``·`` outside.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from luigi_ufo.dated import Gaps
from luigi_ufo.pictures.calendar_grid import (
    COMPLETE,
    MISSING,
    MONTHS,
    OUTSIDE,
    UNFLAGGED,
    counts_line,
    describe_runs,
    requests_line,
    year_rows,
)

MARKS = {COMPLETE: "■", MISSING: "x", UNFLAGGED: "▒", OUTSIDE: "·"}
STYLES = {COMPLETE: "green", MISSING: "bold red", UNFLAGGED: "yellow", OUTSIDE: "bright_black"}
WEEKDAYS = ("Mon", "", "Wed", "", "Fri", "", "Sun")
_MARGIN = 5


def calendar_text(gaps: Gaps, *, title: str = "") -> Group:
    """Return the terminal calendar of ``gaps``: print it with ``rich.console.Console``."""
    parts: list[Text] = []
    if title:
        parts.append(Text(title, style="bold"))
    parts.append(Text(counts_line(gaps)))
    for row in year_rows(gaps):
        months = [" "] * (row.weeks + 1)
        for month, week in row.month_starts():
            label = MONTHS[month - 1]
            if all(c == " " for c in months[week : week + len(label) + 1]):
                months[week : week + len(label)] = label
        heading = f"{row.year:<{_MARGIN}}" + "".join(months).rstrip()
        # A wrapped calendar line would scramble the picture: a narrow terminal crops it.
        parts.append(Text(heading, style="bold", no_wrap=True, overflow="crop"))
        lines = [Text(f"{WEEKDAYS[d]:<{_MARGIN}}", no_wrap=True, overflow="crop") for d in range(7)]
        column = [0] * 7
        for day in row.days:
            line = lines[day.weekday]
            line.append(" " * (day.week - column[day.weekday]))
            line.append(MARKS[day.state], style=STYLES[day.state])
            column[day.weekday] = day.week + 1
        parts.extend(lines)
    legend = Text()
    for state, words in (
        (COMPLETE, "complete"),
        (MISSING, "missing"),
        (UNFLAGGED, "unflagged (data, no flag)"),
        (OUTSIDE, "outside the range"),
    ):
        legend.append(MARKS[state], style=STYLES[state])
        legend.append(f" {words}   ")
    parts.append(legend)
    parts.append(
        Text(f"missing: {describe_runs(gaps.missing)}", style="red" if gaps.missing else "")
    )
    parts.append(
        Text(
            f"unflagged: {describe_runs(gaps.incomplete)}",
            style="yellow" if gaps.incomplete else "",
        )
    )
    if gaps.invalid_names:
        parts.append(Text(f"not dates (ignored): {', '.join(gaps.invalid_names)}"))
    parts.append(Text(f"checked with {requests_line(gaps)}"))
    return Group(*parts)
