"""Show luigi_ufo's log lines where Luigi shows its own, unless the application routes them.

Luigi's default logging (``python -m luigi`` without a logging config) puts a console handler on
its ``luigi-interface`` logger only, so records of ``luigi_ufo.spark`` reach no handler and the
spark-submit output streamed into them is lost. While a run is followed, those records go to
``luigi-interface``'s handlers at its level, but never below INFO (Luigi's console runs at
DEBUG by default, and luigi_ufo's DEBUG records are Spark's own INFO lines, hundreds a run:
``[spark_script] spark_log_level = INFO`` shows them); when any handler of the application
already receives them (a root handler from ``logging.basicConfig``, a ``[logging]`` section,
pytest's capture), nothing is added, so no line is printed twice.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["follow_luigi_console"]

LUIGI_LOGGER = "luigi-interface"


@contextlib.contextmanager
def follow_luigi_console(name: str = "luigi_ufo") -> Iterator[None]:
    """Route logger ``name`` to Luigi's own handlers while the block runs, if nothing else does."""
    ours = logging.getLogger(name)
    luigi_logger = logging.getLogger(LUIGI_LOGGER)
    added = [h for h in luigi_logger.handlers if h not in ours.handlers]
    if _has_handler(ours) or not added:
        yield
        return
    level = ours.level
    for handler in added:
        ours.addHandler(handler)
    ours.setLevel(max(logging.INFO, luigi_logger.getEffectiveLevel()))
    try:
        yield
    finally:
        for handler in added:
            ours.removeHandler(handler)
        ours.setLevel(level)


def _has_handler(logger: logging.Logger) -> bool:
    # The walk logging.Logger.callHandlers does (logging.lastResort aside).
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False
