"""Test-only pause points: hold a process at a named point so a test can signal or kill it there.

With ``LUIGI_UFO_TEST_PAUSE=<point>=<fifo>`` in the environment, :func:`pause_point` ``<point>``
writes the point's name into the FIFO (blocking until the test opens it for reading, so the test
knows the process got there) and then blocks reading the FIFO until the test writes to it, or
signals or kills the process. Without the variable a pause point does nothing.
"""

from __future__ import annotations

import os

PAUSE_ENV = "LUIGI_UFO_TEST_PAUSE"


def pause_point(name: str) -> None:
    """Block at ``name`` if ``$LUIGI_UFO_TEST_PAUSE`` names it; return at once otherwise."""
    spec = os.environ.get(PAUSE_ENV, "")
    point, _, fifo = spec.partition("=")
    if point != name or not fifo:
        return
    with open(fifo, "w", encoding="utf-8") as out:
        out.write(f"{name}\n")
    with open(fifo, encoding="utf-8") as held:
        held.read()
