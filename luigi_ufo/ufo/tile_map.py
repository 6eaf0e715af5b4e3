"""The US tile map of the reference report: one equal square per state and DC, no geodata.

The squares sit in the usual tile-grid arrangement of US maps (the Washington Post's, used by
the ``statebins`` package): 12 columns, 8 rows, Alaska top left, Hawaii and Florida at the
bottom. Each square is shaded by its sightings (log scale: counts span three orders of
magnitude) and labelled with the state's code and count; its id is ``<name>-tile-<code>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from luigi_ufo.pictures.render import INK, MUTED, axes_in_inches, new_figure, styled, svg_text

#: (row, column) of each state's square, row 0 at the top.
TILES: dict[str, tuple[int, int]] = {
    "AK": (0, 0), "ME": (0, 11),
    "VT": (1, 10), "NH": (1, 11),
    "WA": (2, 0), "ID": (2, 1), "MT": (2, 2), "ND": (2, 3), "MN": (2, 4), "IL": (2, 5),
    "WI": (2, 6), "MI": (2, 7), "NY": (2, 8), "RI": (2, 9), "MA": (2, 10),
    "OR": (3, 0), "NV": (3, 1), "WY": (3, 2), "SD": (3, 3), "IA": (3, 4), "IN": (3, 5),
    "OH": (3, 6), "PA": (3, 7), "NJ": (3, 8), "CT": (3, 9),
    "CA": (4, 0), "UT": (4, 1), "CO": (4, 2), "NE": (4, 3), "MO": (4, 4), "KY": (4, 5),
    "WV": (4, 6), "VA": (4, 7), "MD": (4, 8), "DE": (4, 9),
    "AZ": (5, 1), "NM": (5, 2), "KS": (5, 3), "AR": (5, 4), "TN": (5, 5), "NC": (5, 6),
    "SC": (5, 7), "DC": (5, 8),
    "OK": (6, 3), "LA": (6, 4), "MS": (6, 5), "AL": (6, 6), "GA": (6, 7),
    "HI": (7, 0), "TX": (7, 3), "FL": (7, 8),
}  # fmt: skip
CMAP = "YlGnBu"
NONE = "#f2f2f2"


def tile_map(counts: Mapping[str, int], *, title: str = "", name: str = "tile-map") -> str:
    """Return the SVG tile map of ``counts`` (state code -> sightings; absent states are 0)."""
    with styled():
        import matplotlib
        from matplotlib.colors import LogNorm
        from matplotlib.patches import Rectangle

        cmap = matplotlib.colormaps[CMAP]
        positive = [n for n in counts.values() if n > 0]
        norm = LogNorm(vmin=min(positive, default=1), vmax=max(max(positive, default=1), 2))
        figure = new_figure(7.5, 5.6, constrained=False)
        ax = axes_in_inches(figure, left=0.1, bottom=0.75, right=0.1, top=0.35 if title else 0.1)
        for code, (row, col) in TILES.items():
            n = int(counts.get(code, 0))
            shade = float(norm(n)) if n > 0 else 0.0
            square = Rectangle(
                (col, -row), 0.92, 0.92, facecolor=cmap(shade) if n else NONE, edgecolor="white"
            )
            ax.add_artist(square)
            square.set_gid(f"{name}-tile-{code}")
            ink = "white" if n and shade > 0.55 else INK
            ax.text(
                col + 0.46,
                -row + 0.6,
                code,
                ha="center",
                va="center",
                color=ink,
                fontweight="bold",
                fontsize=10,
                gid=f"{name}-code-{code}",
            )
            ax.text(
                col + 0.46,
                -row + 0.28,
                f"{n:,}",
                ha="center",
                va="center",
                color=ink,
                fontsize=7.5,
                gid=f"{name}-count-{code}",
            )
        ax.set_xlim(-0.1, 12)
        ax.set_ylim(-7.1, 1.0)
        ax.set_aspect("equal")
        ax.axis("off")
        if title:
            ax.set_title(title, color=INK)
        mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = figure.colorbar(
            mappable, cax=figure.add_axes((0.3, 0.085, 0.4, 0.025)), orientation="horizontal"
        )
        bar.set_label("sightings (log scale; grey: none)", color=MUTED)
        ticks = log_ticks(int(norm.vmin or 1), int(norm.vmax or 1))
        bar.set_ticks(ticks, labels=[f"{t:,}" for t in ticks])
        bar.ax.minorticks_off()
        bar.ax.tick_params(colors=MUTED, labelsize=8)
        return svg_text(figure, name=name)


def log_ticks(low: int, high: int) -> list[int]:
    """Return the powers of ten between ``low`` and ``high`` (the colour bar's ticks)."""
    if low <= 0 or high < low:
        return []
    return [10**k for k in range(math.ceil(math.log10(low)), math.floor(math.log10(high)) + 1)]
