"""Read a date's results back (top table, counted and rejected rows) and invalidate a date."""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql

from luigi_ufo.dated import DatedTarget
from luigi_ufo.errors import InputFormatError
from luigi_ufo.postgres import connect, parse_table_name, transaction
from luigi_ufo.postgres.ranking.rules import Record, top_n
from luigi_ufo.ufo.tasks import AggregateUFOsByState, TopStatesToDatabase, TopTenStates


@dataclass
class RunSummary:
    """What one dated run produced: the top table from PostgreSQL and the row accounting."""

    date: datetime.date
    top: list[tuple[int, str, int]]
    counted: int
    rejected: dict[str, int] = field(default_factory=dict)
    #: States with the N-th row's count that the cut left out (count desc, then code).
    tied_beyond_cut: list[tuple[str, int]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the ``--json`` document of ``luigi-ufo run``."""
        return {
            "date": self.date.isoformat(),
            "top": [{"rank": r, "state": s, "sightings": n} for r, s, n in self.top],
            "rejected": self.rejected,
            "counted": self.counted,
            "tied_beyond_cut": [{"state": s, "sightings": n} for s, n in self.tied_beyond_cut],
        }


def _rows(target: DatedTarget, header: tuple[str, str]) -> list[tuple[str, int]]:
    rows: list[tuple[str, int]] = []
    for name in target.iter_parts():
        with target.open_part(name, newline="") as fh:
            reader = csv.reader(fh)
            first = next(reader, None)
            if first is None:
                continue
            if tuple(first) != header:
                raise InputFormatError(
                    f"{target.uri}{name} starts with {first!r}, not {','.join(header)!r}; "
                    "rerun AggregateUFOsByState for this date"
                )
            rows += [(key, int(value)) for key, value in reader]
    return rows


def read_summary(date: datetime.date) -> RunSummary:
    """Return the date's top table (read from PostgreSQL) and its counted and rejected rows."""
    outputs = AggregateUFOsByState(date=date).output()  # type: ignore[no-untyped-call]
    states = _rows(outputs["states"], ("state", "sightings"))
    counted = sum(n for _, n in states)
    rejected = dict(_rows(outputs["rejected"], ("reason", "records")))
    task = TopStatesToDatabase(date=date)
    table = parse_table_name(task.table)
    # A literal, not %s: with parameters psycopg2 would read a "%" in the table name.
    query = sql.SQL("SELECT rank, state, sightings FROM {} WHERE date = {} ORDER BY rank").format(
        table.identifier, sql.Literal(date)
    )
    with connect(task.connection_settings()) as conn, transaction(conn) as cur:
        cur.execute(query)
        top = [(int(r), str(s), int(n)) for r, s, n in cur.fetchall()]
    return RunSummary(date, top, counted, rejected, tied_beyond_cut(states, top))


def tied_beyond_cut(
    states: list[tuple[str, int]], top: list[tuple[int, str, int]]
) -> list[tuple[str, int]]:
    """Return the states tied with the last row of ``top`` that ``top`` left out.

    The ranking's own ``with_ties`` rule over every state, less the rows kept.
    """
    if not top:
        return []
    records = [Record((), (state,), n) for state, n in states]
    kept = {state for _, state, _ in top}
    tied = top_n(records, len(top), "with_ties")
    return [(r.key[0], int(r.measure)) for r in tied if r.key[0] not in kept]


def invalidate(date: datetime.date) -> None:
    """Mark the date's derived outputs incomplete so the next build recomputes them.

    Dated outputs lose their success flag (their data is replaced by the next write); the
    PostgreSQL marker row is deleted (the next load replaces the date's rows).
    """
    aggregate = AggregateUFOsByState(date=date)  # type: ignore[no-untyped-call]
    top = TopTenStates(date=date)  # type: ignore[no-untyped-call]
    for target in [*aggregate.output().values(), top.output()]:
        target.remove_flag()
    TopStatesToDatabase(date=date).output().remove()
