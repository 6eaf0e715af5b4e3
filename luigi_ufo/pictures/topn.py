"""The bar chart of a top-N table: one bar per kept row, in rank order, ties at the cut marked.

Works for any :class:`~luigi_ufo.postgres.PostgresTopNTask`'s rows (any label, value and rank
columns; :mod:`luigi_ufo.pictures.topn_table` reads them) or rows from anywhere else.

*Tied at the cut* means the N-th place is shared: the rows holding the smallest kept value,
together with any row left out that has the same value, are more than one and straddle the N-th
position. Which of them were kept is the tie rule's choice (``stable`` keeps the first keys,
``with_ties`` keeps them all), so the chart shows them in another colour, and the left-out ones
as empty bars, instead of letting the cut look like a clear win.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from luigi_ufo.pictures.render import (
    BAR,
    INK,
    MUTED,
    TIED,
    TIED_EDGE,
    axes_in_inches,
    new_figure,
    styled,
    svg_text,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Value = int | float | Decimal


@dataclass(frozen=True)
class TopNRow:
    """One row of a top-N table: what it names, its measure and its rank (1 is best)."""

    label: str
    value: Value
    rank: int


@dataclass(frozen=True)
class Cut:
    """The N-th place of a top-N table: its value and who shares it.

    ``tied``: the labels of kept rows tied at the cut; ``left_out``: rows not kept that hold the
    cut value. Both are empty when there is no tie at the cut.
    """

    value: Value | None
    tied: tuple[str, ...]
    left_out: tuple[TopNRow, ...]

    @property
    def is_tie(self) -> bool:
        """Tell whether the N-th place is shared."""
        return bool(self.tied)


def find_cut(rows: Sequence[TopNRow], n: int, others: Iterable[tuple[str, Value]] = ()) -> Cut:
    """Return the cut of ``rows`` (the kept rows) for ``n``; ``others``: (label, value) of rows
    that were not kept (extra rows, or all the input's rows: the kept labels are ignored).
    """
    if not rows:
        return Cut(None, (), ())
    value = min(row.value for row in rows)
    kept = {row.label for row in rows}
    above = sum(1 for row in rows if row.value > value)
    at_cut = [row.label for row in rows if row.value == value]
    left_out = tuple(
        TopNRow(label, v, 0)
        for label, v in sorted(others, key=lambda kv: kv[0])
        if label not in kept and v == value
    )
    group = len(at_cut) + len(left_out)
    if group > 1 and above < n < above + group:
        return Cut(value, tuple(at_cut), left_out)
    return Cut(value, (), ())


def format_value(value: Value) -> str:
    """Return ``value`` as a chart shows it: integers with thousands separators."""
    if isinstance(value, int) or (not isinstance(value, bool) and float(value).is_integer()):
        return f"{int(value):,}"
    return f"{float(value):,.6g}"


def topn_chart(
    rows: Sequence[TopNRow],
    n: int,
    *,
    others: Iterable[tuple[str, Value]] = (),
    title: str = "",
    value_label: str = "",
    name: str = "topn-chart",
) -> str:
    """Return the SVG bar chart of ``rows`` (a top-``n`` table), ties at the cut marked.

    Each kept row's bar, label, rank and value are elements with ids ``<name>-bar-<i>``,
    ``<name>-label-<i>``, ``<name>-rank-<i>`` and ``<name>-value-<i>`` (``i`` from 0 in rank
    order); a left-out row tied at the cut is ``<name>-left-out-<j>``.

    Example:
        >>> svg = topn_chart([TopNRow("CA", 13, 1), TopNRow("FL", 6, 2)], 2, title="Top 2")
        >>> svg.startswith('<svg id="topn-chart"')
        True
    """
    ordered = sorted(rows, key=lambda r: (r.rank, r.label))
    cut = find_cut(ordered, n, others)
    shown = [*ordered, *cut.left_out]
    with styled():
        # Ranks in a column left of the labels: the longest label's width, roughly, in points.
        rank_at = 14 + 6.5 * max((len(r.label) for r in shown), default=1)
        head = 0.45 if title else 0.15
        figure = new_figure(7.5, head + 0.6 + 0.34 * max(len(shown), 1), constrained=False)
        ax = axes_in_inches(
            figure,
            left=(rank_at + 22) / 72,
            bottom=0.6 if value_label else 0.35,
            right=0.2,
            top=head,
        )
        top = max((float(r.value) for r in shown), default=1.0) or 1.0
        for i, row in enumerate(shown):
            y = -i
            kept = i < len(ordered)
            tied = row.label in cut.tied or not kept
            bar = ax.barh(
                y,
                float(row.value),
                height=0.72,
                color=(TIED if tied else BAR) if kept else "none",
                edgecolor=TIED_EDGE if tied else BAR,
                hatch="//" if kept and tied else None,
                linestyle="-" if kept else "--",
            )[0]
            kind = "bar" if kept else "left-out"
            index = i if kept else i - len(ordered)
            bar.set_gid(f"{name}-{kind}-{index}")
            if kept:
                ax.annotate(
                    str(row.rank),
                    (0, y),
                    xycoords=("axes fraction", "data"),
                    xytext=(-rank_at, 0),
                    textcoords="offset points",
                    ha="right",
                    va="center",
                    color=MUTED,
                    fontsize=9,
                    gid=f"{name}-rank-{i}",
                )
            ax.annotate(
                row.label,
                (0, y),
                xycoords=("axes fraction", "data"),
                xytext=(-6, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                color=INK,
                gid=f"{name}-label-{i}" if kept else None,
            )
            text = format_value(row.value) + ("" if kept else " (not kept)")
            ax.text(
                float(row.value) + 0.01 * top,
                y,
                text,
                ha="left",
                va="center",
                color=INK,
                fontsize=9,
                gid=f"{name}-value-{i}" if kept else None,
            )
        ax.set_xlim(0, top * 1.18)
        ax.set_ylim(-len(shown) + 0.4, 0.6)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="x", colors=MUTED)
        ax.xaxis.set_major_formatter("{x:,.0f}")
        if value_label:
            ax.set_xlabel(value_label, color=MUTED)
        if title:
            ax.set_title(title, color=INK, pad=10)
        if cut.is_tie:
            _tie_legend(ax, cut, n, name)
        return svg_text(figure, name=name)


def _tie_legend(ax: Axes, cut: Cut, n: int, name: str) -> None:
    from matplotlib.patches import Patch

    place = f"tied at place {n} ({format_value(cut.value or 0)})"
    handles = [Patch(facecolor=TIED, edgecolor=TIED_EDGE, hatch="//", label=f"kept, {place}")]
    if cut.left_out:
        handles.append(
            Patch(facecolor="none", edgecolor=TIED_EDGE, linestyle="--", label=f"not kept, {place}")
        )
    legend = ax.legend(handles=handles, loc="lower right", frameon=False, fontsize=9)
    legend.set_gid(f"{name}-tie-legend")
