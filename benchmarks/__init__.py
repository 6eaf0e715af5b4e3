"""Side-by-side benchmarks of luigi-ufo against the tools a user would otherwise use.

Run ``python -m benchmarks [--quick] [--only NAME]``. Each benchmark module ``bench_<name>.py``
defines ``NAME``, ``TITLE`` and ``run(quick: bool) -> list[Row]``; see ``_common``.

The benchmarks measure the luigi-ufo that is installed: ``python -m`` puts the checkout first on
``sys.path``, but the checkout's ``luigi_ufo/`` is not the installed package (setup.cfg maps
``luigi_ufo.scripts`` from ``src/spark``) nor what the benchmarks' subprocesses (``luigi-ufo``,
``python -m luigi`` in a temporary directory) import. So when a non-editable install exists,
the checkout leaves ``sys.path`` before anything imports ``luigi_ufo``; an editable install is
the checkout itself and changes nothing.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _prefer_installed_luigi_ufo() -> None:
    if "luigi_ufo" in sys.modules:
        return  # already imported (a test session): keep what it imported
    others = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _CHECKOUT]
    if importlib.machinery.PathFinder.find_spec("luigi_ufo", others) is not None:
        sys.path[:] = others


_prefer_installed_luigi_ufo()
