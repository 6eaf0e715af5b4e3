"""The gaps calendar of a dated dataset as SVG: a year per row, a square per day.

Each day of the range is a square coloured by its state (complete, missing, unflagged; days of
those years outside the range are pale), with the id ``<name>-day-<YYYY-MM-DD>``; the legend's
squares are ``<name>-legend-<state>``, so a page or a test can tell every day's state by colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from luigi_ufo.dated import Gaps
from luigi_ufo.pictures.calendar_grid import (
    COMPLETE,
    MISSING,
    MONTHS,
    OUTSIDE,
    UNFLAGGED,
    summary,
    year_rows,
)
from luigi_ufo.pictures.render import INK, MUTED, new_figure, styled, svg_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

#: Colour of each state (Okabe-Ito's bluish green, vermillion and orange; pale grey outside).
COLOURS = {COMPLETE: "#009e73", MISSING: "#d55e00", UNFLAGGED: "#e69f00", OUTSIDE: "#ececec"}
LEGEND = {COMPLETE: "complete", MISSING: "missing", UNFLAGGED: "unflagged (data, no flag)"}
WEEKDAYS = {0: "Mon", 2: "Wed", 4: "Fri"}
_ROW = 9.5  # a year's height in cells: 7 weekdays and room for the month names


def gaps_calendar(gaps: Gaps, *, title: str = "", name: str = "gaps-calendar") -> str:
    """Return the SVG calendar of ``gaps`` (from ``DatedDataset.gaps`` or ``DatedTarget.gaps``).

    Example:
        >>> gaps = DatedTarget.gaps("lake/clicks", start, end)  # doctest: +SKIP
        >>> Path("gaps.html").write_text(html_page("Gaps", [Figure("", gaps_calendar(gaps))]))
    """
    rows = year_rows(gaps)
    with styled():
        figure = new_figure(9.0, 0.9 + 1.25 * len(rows))
        ax = figure.add_subplot()
        outside = []
        for i, row in enumerate(rows):
            top = -i * _ROW
            _year(ax, row.year, top, row.month_starts())
            for day in row.days:
                square = _square(day.week, top - 1.5 - day.weekday, COLOURS[day.state])
                if day.state == OUTSIDE:
                    outside.append(square)
                else:
                    # add_artist, not add_patch: the limits are set below, and updating them
                    # per square costs more than drawing it.
                    ax.add_artist(square)
                    square.set_gid(f"{name}-day-{day.date.isoformat()}")
        ax.add_collection(_collection(outside, COLOURS[OUTSIDE]), autolim=False)
        ax.set_xlim(-0.5, 54)
        ax.set_ylim(-len(rows) * _ROW + 1.5, 0.5)
        ax.set_aspect("equal")
        ax.axis("off")
        if title:
            figure.suptitle(title, x=0.02, ha="left", color=INK, fontweight="bold", fontsize=12)
        ax.set_title(
            summary(gaps),
            color=MUTED,
            fontsize=9,
            fontweight="normal",
            loc="left",
            gid=f"{name}-summary",
        )
        _legend(ax, name)
        return svg_text(figure, name=name)


def _square(x: float, y: float, colour: str) -> Rectangle:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y - 0.45), 0.9, 0.9, facecolor=colour, edgecolor="none")


def _collection(squares: list[Rectangle], colour: str) -> PatchCollection:
    from matplotlib.collections import PatchCollection

    return PatchCollection(squares, facecolor=colour, edgecolor="none")


def _year(ax: Axes, year: int, top: float, months: list[tuple[int, int]]) -> None:
    ax.text(
        -3.2,
        top - 1.5 - 3,
        str(year),
        ha="right",
        va="center",
        color=INK,
        fontweight="bold",
        gid=f"year-{year}",
    )
    for weekday, label in WEEKDAYS.items():
        ax.text(-0.4, top - 1.5 - weekday, label, ha="right", va="center", color=MUTED, fontsize=7)
    for month, week in months:
        ax.text(week, top - 0.3, MONTHS[month - 1], ha="left", va="center", color=MUTED, fontsize=7)


def _legend(ax: Axes, name: str) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=COLOURS[s], edgecolor="none", label=t) for s, t in LEGEND.items()]
    legend = ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(0, 0), ncols=3, frameon=False, fontsize=9
    )
    for state, patch in zip(LEGEND, legend.get_patches(), strict=True):
        patch.set_gid(f"{name}-legend-{state}")
