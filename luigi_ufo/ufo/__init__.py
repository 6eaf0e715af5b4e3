"""The reference UFO pipeline: NUFORC export -> sightings per US state -> top ten -> PostgreSQL.

Run it as any Luigi pipeline: ``python -m luigi --module luigi_ufo.ufo TopStatesToDatabase
--date 2024-01-15 --local-scheduler``, or with ``luigi-ufo run --input EXPORT``.
"""

from __future__ import annotations

from luigi_ufo.ufo.tasks import (
    AggregateUFOsByState,
    ImportUFOExport,
    ReadUFOs,
    TopStatesToDatabase,
    TopTenStates,
)

__all__ = [
    "AggregateUFOsByState",
    "ImportUFOExport",
    "ReadUFOs",
    "TopStatesToDatabase",
    "TopTenStates",
]
