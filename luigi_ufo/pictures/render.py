"""Render a matplotlib figure as SVG text to inline in HTML: text stays text, ids stay ids.

Every picture is drawn on a plain ``matplotlib.figure.Figure`` (no pyplot: no global figure
state, safe in a Luigi worker's threads) with :data:`STYLE` in force, and saved as SVG with
``svg.fonttype = 'none'`` (text is ``<text>``, searchable and testable), a fixed hash salt and no
date (the same data gives the same bytes), so an element named with ``set_gid`` keeps that id.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from luigi_ufo.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
INSTALL_HINT = "pip install 'luigi-ufo[report]'"

#: The look every picture shares: rcParams set while a figure is built and saved.
STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial", "sans-serif"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}

#: Colours shared by the pictures (colour-blind safe: Okabe-Ito's blue, orange, vermillion).
INK = "#222222"
MUTED = "#888888"
BAR = "#0072b2"
TIED = "#e69f00"
TIED_EDGE = "#9a6700"


def require_matplotlib() -> None:
    """Raise ConfigError naming the extra to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"the HTML pictures need matplotlib, which is not installed; {INSTALL_HINT}"
        ) from exc


#: The thread of :func:`warm_up`, once started.
_warm_up_thread: threading.Thread | None = None
#: Whether :func:`warm_up_after_next_fork` has hooked the next fork.
_fork_hooked = False


def warm_up() -> threading.Thread:
    """Import matplotlib's figure and SVG canvas in a daemon thread and return it.

    A caller that will draw later (``luigi-ufo run`` draws its report after the pipeline) starts
    this first, so the import, two thirds of a report's cost, overlaps the Spark jobs instead of
    adding to the run. Without matplotlib the thread ends quietly: the caller's own
    :func:`require_matplotlib` says what to install. One import per process: later calls return
    the first thread.
    """
    global _warm_up_thread
    if _warm_up_thread is None:
        thread = threading.Thread(target=_import_drawing, name="luigi-ufo-matplotlib-import")
        thread.daemon = True
        thread.start()
        # A fork (Connect mode's script process) while the import holds a module's lock would
        # leave the child waiting on it forever: a fork waits for the import to end first.
        os.register_at_fork(before=thread.join)
        _warm_up_thread = thread
    return _warm_up_thread


def warm_up_after_next_fork() -> None:
    """Start :func:`warm_up` in this process right after its next fork, not now.

    For a caller whose first Spark job forks at once (Connect mode's script process): a fork
    waits for a running import, so warming up first would delay that job by the import. No
    fork, no warm-up: the drawing imports when it starts.
    """
    global _fork_hooked
    if not _fork_hooked and _warm_up_thread is None:
        os.register_at_fork(after_in_parent=warm_up)
        _fork_hooked = True


def _import_drawing() -> None:
    with contextlib.suppress(ImportError):
        import matplotlib.backends.backend_svg
        import matplotlib.figure  # noqa: F401


@contextlib.contextmanager
def styled() -> Iterator[None]:
    """Apply :data:`STYLE` inside the block (build and save a figure in it)."""
    require_matplotlib()
    import matplotlib

    with matplotlib.rc_context(cast(Any, STYLE)):
        yield


def new_figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    """Return an empty figure ``width`` x ``height`` inches with an SVG canvas (call in
    :func:`styled`).

    ``constrained``: matplotlib's constrained layout places the axes (it measures every text
    twice more); without it, place them with :func:`axes_in_inches`.
    """
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained" if constrained else None)
    FigureCanvasSVG(figure)
    return figure


def axes_in_inches(figure: Figure, *, left: float, bottom: float, right: float, top: float) -> Axes:
    """Return new axes leaving these margins (inches) inside ``figure``."""
    width, height = figure.get_size_inches()
    return figure.add_axes(
        (left / width, bottom / height, 1 - (left + right) / width, 1 - (bottom + top) / height)
    )


def svg_text(figure: Figure, *, name: str) -> str:
    """Return ``figure`` as an ``<svg>`` element for an HTML page (no XML prolog).

    ``name`` salts the ids matplotlib makes up (clip paths, glyphs), so two pictures on one
    page never share one; it becomes the root element's id too.
    """
    import matplotlib

    if not _ID.fullmatch(name):
        raise ValueError(f"picture name {name!r} is not an HTML id; use letters, digits and '-'")
    out = io.StringIO()
    with matplotlib.rc_context(cast(Any, {**STYLE, "svg.hashsalt": name})):
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    svg = text[text.index("<svg") :]
    # The root element is matplotlib's; naming it lets a page and a test find the picture.
    return svg.replace("<svg ", f'<svg id="{name}" role="img" ', 1)
