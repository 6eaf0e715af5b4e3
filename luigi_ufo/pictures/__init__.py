"""Pictures of what a pipeline made: top-N charts, gaps calendars, self-contained HTML pages.

Reusable by any project on the plugin's base classes (nothing here knows the UFO pipeline):

- :func:`topn_chart` draws a top-N table (any label, value and rank) with ties at the cut
  marked; :func:`read_topn` reads a :class:`~luigi_ufo.postgres.PostgresTopNTask`'s rows back;
- :func:`gaps_calendar` (SVG) and :func:`calendar_text` (terminal) draw a dated dataset's
  complete, missing and unflagged dates from ``DatedDataset.gaps`` / ``DatedTarget.gaps``;
- :func:`html_page` and :func:`write_page` make one HTML file with every picture inline.

Drawing needs matplotlib (``pip install 'luigi-ufo[report]'``); importing this package does
not, and names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "Cut": "luigi_ufo.pictures.topn",
    "Facts": "luigi_ufo.pictures.page",
    "Figure": "luigi_ufo.pictures.page",
    "Note": "luigi_ufo.pictures.page",
    "Section": "luigi_ufo.pictures.page",
    "Table": "luigi_ufo.pictures.page",
    "TopNRow": "luigi_ufo.pictures.topn",
    "calendar_text": "luigi_ufo.pictures.calendar_terminal",
    "find_cut": "luigi_ufo.pictures.topn",
    "gaps_calendar": "luigi_ufo.pictures.calendar_svg",
    "html_page": "luigi_ufo.pictures.page",
    "read_topn": "luigi_ufo.pictures.topn_table",
    "topn_chart": "luigi_ufo.pictures.topn",
    "write_page": "luigi_ufo.pictures.page",
}

__all__ = [
    "Cut",
    "Facts",
    "Figure",
    "Note",
    "Section",
    "Table",
    "TopNRow",
    "calendar_text",
    "find_cut",
    "gaps_calendar",
    "html_page",
    "read_topn",
    "topn_chart",
    "write_page",
]

if TYPE_CHECKING:
    from luigi_ufo.pictures.calendar_svg import gaps_calendar
    from luigi_ufo.pictures.calendar_terminal import calendar_text
    from luigi_ufo.pictures.page import (
        Facts,
        Figure,
        Note,
        Section,
        Table,
        html_page,
        write_page,
    )
    from luigi_ufo.pictures.topn import Cut, TopNRow, find_cut, topn_chart
    from luigi_ufo.pictures.topn_table import read_topn


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'luigi_ufo.pictures' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
