"""Rank and load a top-N input with the fastest engine that takes it: the one place that picks.

CSV files go to pyarrow (:mod:`~luigi_ufo.postgres.ranking.arrow`), then to PostgreSQL
(:mod:`~luigi_ufo.postgres.ranking.database`); an engine that cannot give exactly what the
Python read gives declines before anything is committed. Other input, and CSV every engine
declines, is read and ranked in Python (``RecordReader`` + ``top_n`` + ``load``). All give the same
rows, ranks, errors and counts. Each engine starts from a fresh reader, so the counts of one that
declined never reach the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from luigi_ufo.postgres.load import LoadResult, load
from luigi_ufo.postgres.ranking.arrow import rank_columnar
from luigi_ufo.postgres.ranking.database import rank_in_database
from luigi_ufo.postgres.ranking.parts import CsvPart, Declined, SpecFor, csv_parts
from luigi_ufo.postgres.ranking.reader import ReadResult, RecordReader
from luigi_ufo.postgres.ranking.rules import Ties, top_n
from luigi_ufo.postgres.settings import ConnectionSettings

__all__ = ["ENGINES", "Engine", "rank"]

logger = logging.getLogger(__name__)


class Engine(Protocol):
    """Ranks CSV parts and loads the top ``n`` in one transaction, or raises ``Declined``."""

    def __call__(
        self,
        parts: Sequence[CsvPart],
        *,
        reader: RecordReader,
        n: int,
        ties: Ties,
        spec_for: SpecFor,
        settings: ConnectionSettings,
    ) -> tuple[ReadResult, LoadResult]: ...


#: The engines for CSV parts, fastest first, each with what the run does when it declines.
ENGINES: tuple[tuple[Engine, str], ...] = (
    (rank_columnar, "ranks its input in SQL"),
    (rank_in_database, "reads its input in Python"),
)


def rank(
    source: Any,
    *,
    new_reader: Callable[[], RecordReader],
    n: int,
    ties: Ties,
    spec_for: SpecFor,
    settings: ConnectionSettings,
    label: str = "top-N load",
) -> tuple[ReadResult, LoadResult]:
    """Rank ``source`` and load its top ``n`` into ``spec_for(key columns)``; return both results.

    ``source``: what :class:`RecordReader` reads (targets, dated targets, dict rows).
    ``label`` names the run in the INFO line logged when an engine declines.
    """
    parts = csv_parts(source)
    if parts is not None:
        for engine, fallback in ENGINES:
            try:
                return engine(
                    parts, reader=new_reader(), n=n, ties=ties, spec_for=spec_for, settings=settings
                )
            except Declined as exc:
                logger.info("%s %s: %s", label, fallback, exc)
    reader = new_reader()
    reader.read(source)
    read = reader.finish(source)
    spec = spec_for(read.key_columns)
    return read, load(spec, top_n(read.records, n, ties), settings=settings)
