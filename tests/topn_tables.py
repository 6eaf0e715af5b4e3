"""Helpers of the top-N load tests: read tables back, build specs and rows, write CSV exports."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from luigi_ufo.dated import DatedTarget
from luigi_ufo.errors import BadInputError
from luigi_ufo.postgres import (
    ConnectionSettings,
    LoadSpec,
    PostgresMarkerTarget,
    Ranked,
    ReadResult,
    Record,
    connect,
    load,
    read_records,
    top_n,
    transaction,
)
from luigi_ufo.postgres import sql as q


def execute(settings: ConnectionSettings, stmt: Any) -> None:
    """Run ``stmt`` in its own transaction."""
    with connect(settings) as conn, transaction(conn) as cur:
        cur.execute(stmt)


def fetch(
    settings: ConnectionSettings, query: Any, params: tuple[Any, ...] | None = None
) -> list[tuple[Any, ...]]:
    """Return every row of ``query`` as tuples."""
    # No parameters means None, not (): with any parameters psycopg2 reads "%" in names.
    with connect(settings) as conn, transaction(conn) as cur:
        cur.execute(query, params)
        return [tuple(row) for row in cur.fetchall()]


def contents(settings: ConnectionSettings, table: Any) -> list[tuple[Any, ...]]:
    """Return the rows of ``table`` (a name, maybe schema-qualified) ordered by the first three."""
    name = q.parse_table_name(table)
    return fetch(settings, q.sql.SQL("SELECT * FROM {} ORDER BY 1, 2, 3").format(name.identifier))


def sorted_rows(dsn: str, table: str) -> list[tuple[Any, ...]]:
    """Return the rows of the unqualified ``table``, sorted."""
    stmt = q.sql.SQL("SELECT * FROM {}").format(q.sql.Identifier(table))
    return sorted(fetch(ConnectionSettings(dsn=dsn), stmt))


def spec_for(table: Any, day: datetime.date, run: str = "a", **kw: Any) -> LoadSpec:
    """A spec ranking ``m`` by key ``k`` into ``table``'s partition ``day``; ``kw`` overrides."""
    args: dict[str, Any] = {
        "table": table,
        "rank_by": "m",
        "key_columns": ["k"],
        "update_id": f"{table}-{day}-{run}",
        "partition": {"day": day},
        "column_types": {"m": "bigint"},
    }
    args.update(kw)
    return LoadSpec.build(**args)


def ranked(count: int, offset: int = 0) -> list[Ranked]:
    """``count`` ranked records ``k000000``... with measures ``offset``, ``offset + 1``..."""
    return top_n([Record((), (f"k{i:06d}",), i + offset) for i in range(count)], count)


def expected(day: datetime.date, rows: list[Ranked]) -> list[tuple[Any, ...]]:
    """The table rows a load of ``rows`` into partition ``day`` leaves."""
    return [(day, r.rank, r.key[0], r.measure) for r in rows]


def marker_exists(settings: ConnectionSettings, spec: LoadSpec) -> bool:
    """Tell whether the marker of ``spec``'s load is recorded."""
    return PostgresMarkerTarget(
        table=spec.table.table,
        update_id=spec.update_id,
        marker_table=spec.marker_table,
        settings=settings,
    ).exists()


def write_export(
    root: Path, day: datetime.date, parts: list[tuple[list[str], list[list[str]]]]
) -> DatedTarget:
    """Write ``parts`` (header, rows) as CSV parts of ``root``'s partition ``day``, flag last."""
    folder = root / day.isoformat()
    folder.mkdir(parents=True)
    for index, (header, rows) in enumerate(parts):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        (folder / f"part-{index:05d}.csv").write_text(text.getvalue(), encoding="utf-8")
    (folder / "_SUCCESS").write_text("", encoding="utf-8")
    return DatedTarget(str(root), day)


def load_by_python(
    target: DatedTarget,
    example: dict[str, Any],
    *,
    exclude: Sequence[str],
    spec_for: Callable[[Any], LoadSpec],
    settings: ConnectionSettings,
) -> tuple[ReadResult | None, str | None]:
    """Rank and load an ``example`` export (measure ``m``) the plain way, read_records, top_n and
    load: the reference the SQL and columnar engines are compared with. Return the read and no
    error, or no read and the refusal's text.
    """
    try:
        read = read_records(
            target,
            rank_by="m",
            key_columns=example["keys"],
            group_by=example["groups"],
            exclude=exclude,
            skip_bad_rows=example["skip"],
        )
        records = top_n(read.records, example["n"], example["ties"])
        load(spec_for(read.key_columns), records, settings=settings)
    except BadInputError as exc:
        return None, str(exc)
    return read, None
