"""Read back the rows a :class:`~luigi_ufo.postgres.PostgresTopNTask` loaded, for its chart.

The task's own declarations say where the rows are and what they mean: ``table``, the
partition (``partition()``: this run's rows), ``rank_by`` (the value), ``rank_column``,
``key_columns`` (the label; by default every other column of the table) and ``group_by`` (one
chart per group). Identifiers are composed by ``psycopg2.sql``, values as literals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg2 import sql

from luigi_ufo.pictures.topn import TopNRow
from luigi_ufo.postgres import PostgresTopNTask, connect, parse_table_name, transaction

#: How the parts of a key of several columns are joined into one label.
LABEL_SEPARATOR = " / "


def label_columns(task: PostgresTopNTask, columns: Sequence[str]) -> list[str]:
    """Return the columns that label a row: ``key_columns``, else every other column."""
    if task.key_columns is not None:
        return list(task.key_columns)
    skip = {task.rank_by, task.rank_column, *task.group_by, *task.partition()}
    return [c for c in columns if c not in skip]


def read_topn(task: PostgresTopNTask) -> dict[tuple[Any, ...], list[TopNRow]]:
    """Return the task's rows in its table, by group (``()`` without ``group_by``), in rank
    order.

    Example:
        >>> rows = read_topn(TopStates(date=day))[()]  # doctest: +SKIP
        >>> svg = topn_chart(rows, TopStates.n, title="Top states")  # doctest: +SKIP
    """
    table = parse_table_name(task.table).identifier
    partition = task.partition()
    where = sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Literal(value))
        for column, value in partition.items()
    )
    groups = list(task.group_by)
    with connect(task.connection_settings()) as conn, transaction(conn) as cur:
        cur.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(table))
        labels = label_columns(task, [d[0] for d in cur.description or ()])
        query = sql.SQL("SELECT {} FROM {}{} ORDER BY {}").format(
            sql.SQL(", ").join(
                sql.Identifier(c) for c in [*groups, *labels, task.rank_by, task.rank_column]
            ),
            table,
            sql.SQL(" WHERE ") + where if partition else sql.SQL(""),
            sql.SQL(", ").join(sql.Identifier(c) for c in [*groups, task.rank_column, *labels]),
        )
        cur.execute(query)
        found: dict[tuple[Any, ...], list[TopNRow]] = {}
        for row in cur.fetchall():
            group, rest = tuple(row[: len(groups)]), row[len(groups) :]
            label = LABEL_SEPARATOR.join(str(part) for part in rest[: len(labels)])
            value, rank = rest[len(labels)], rest[len(labels) + 1]
            found.setdefault(group, []).append(TopNRow(label, value, int(rank)))
    return found
