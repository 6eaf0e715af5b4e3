"""The marker target of a top-N load: complete when the marker row and the table both exist."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import luigi
import psycopg2

import luigi_ufo.postgres.sql as q
from luigi_ufo.errors import ServiceError
from luigi_ufo.postgres.connection import connect, transaction
from luigi_ufo.postgres.settings import ConnectionSettings

__all__ = ["PostgresMarkerTarget"]


class PostgresMarkerTarget(luigi.Target):
    """Exists when ``marker_table`` holds ``(update_id, table)`` and ``table`` itself exists.

    Checking the table too means a dropped table makes the task run again (Luigi's
    ``PostgresTarget`` checks only the marker). Each check opens and closes its own connection;
    ``existing_update_ids()`` checks many runs at once (also as a
    :class:`luigi_ufo.bulk.BulkTarget`) and ``remove()`` makes a run due again. A marker row
    also records what its load was made from (``made_from``, see
    :mod:`luigi_ufo.lineage`), read in bulk by ``bulk_lineage()``.
    """

    def __init__(
        self,
        *,
        table: object,
        update_id: str,
        marker_table: object = "luigi_ufo_markers",
        settings: ConnectionSettings | None = None,
    ) -> None:
        self.table = q.parse_table_name(table)
        self.marker_table = q.parse_table_name(marker_table)
        self.update_id = update_id
        self._settings = settings

    def __repr__(self) -> str:
        return (
            f"PostgresMarkerTarget(table={self.table.quoted!r}, update_id={self.update_id!r}, "
            f"marker_table={self.marker_table.quoted!r})"
        )

    @property
    def settings(self) -> ConnectionSettings:
        """Return the connection settings (``[postgres_topn]`` read now if none were given)."""
        return self._settings or ConnectionSettings.from_config()

    def exists(self) -> bool:
        """Tell whether the marker row for (update_id, table) and the table both exist."""
        return self.bulk_exists([self])[0]

    def bulk_key(self) -> Hashable:
        """Return the server, marker table and table this target is queried with."""
        return ("postgres-marker", self.settings, self.marker_table, self.table)

    def bulk_exists(self, targets: Sequence[PostgresMarkerTarget]) -> list[bool]:
        """Tell for each of ``targets`` (all of this key) whether its marker exists: one query."""
        found = self.existing_update_ids(
            [t.update_id for t in targets],
            table=self.table,
            marker_table=self.marker_table,
            settings=self.settings,
        )
        return [t.update_id in found for t in targets]

    def bulk_lineage(
        self, targets: Sequence[PostgresMarkerTarget]
    ) -> list[tuple[str | None, float | None]]:
        """Return what each of ``targets``' loads was made from (None: no marker, or none
        recorded), from one query. (No time: a marker records its lineage with its load.)"""
        rows = self.marker_rows(
            [t.update_id for t in targets],
            table=self.table,
            marker_table=self.marker_table,
            settings=self.settings,
        )
        return [(rows.get(t.update_id), None) for t in targets]

    @classmethod
    def existing_update_ids(
        cls,
        update_ids: Iterable[str],
        *,
        table: object,
        marker_table: object = "luigi_ufo_markers",
        settings: ConnectionSettings | None = None,
    ) -> set[str]:
        """Return those of ``update_ids`` whose markers for ``table`` exist, from one query.

        One connection checks that both tables exist, then reads the marker rows of every id at
        once, so completeness of many runs costs the same as one ``exists()``.
        """
        rows = cls.marker_rows(
            update_ids, table=table, marker_table=marker_table, settings=settings
        )
        return set(rows)

    @classmethod
    def marker_rows(
        cls,
        update_ids: Iterable[str],
        *,
        table: object,
        marker_table: object = "luigi_ufo_markers",
        settings: ConnectionSettings | None = None,
    ) -> dict[str, str | None]:
        """Return ``{update_id: made_from}`` of the markers of ``update_ids`` for ``table`` that
        exist (with ``table`` itself), from one query."""
        ids = sorted(set(update_ids))
        table_name = q.parse_table_name(table)
        marker = q.parse_table_name(marker_table)
        settings = settings or ConnectionSettings.from_config()
        if not ids:
            return {}
        try:
            with connect(settings) as conn, transaction(conn) as cur:
                cur.execute(q.MARKER_AND_TABLE_EXIST, (marker.quoted, table_name.quoted))
                row = cur.fetchone()
                if not (row and row[0] and row[1]):
                    return {}
                # Executed without parameters: "%" in a name is not a placeholder then.
                cur.execute(q.select_markers(marker, ids, table_name))
                return {str(r[0]): None if r[1] is None else str(r[1]) for r in cur.fetchall()}
        except psycopg2.Error as exc:
            what = f"marker {ids[0]!r}" if len(ids) == 1 else f"{len(ids)} markers"
            raise ServiceError(
                f"checking {what} for {table_name} in {marker} failed "
                f"({settings.describe()}): {str(exc).strip()}; check the server and "
                "[postgres_topn]"
            ) from exc

    def remove(self) -> None:
        """Delete this run's marker row in its own transaction, so the run is due again.

        Nothing happens if the row or the marker table does not exist; the table's rows stay
        until the next run replaces them.
        """
        settings = self.settings
        try:
            with connect(settings) as conn, transaction(conn) as cur:
                cur.execute(q.TABLE_EXISTS, (self.marker_table.quoted,))
                row = cur.fetchone()
                if row and row[0]:
                    cur.execute(q.delete_marker(self.marker_table, self.update_id, self.table))
        except psycopg2.Error as exc:
            raise ServiceError(
                f"removing marker {self.update_id!r} for {self.table} from {self.marker_table} "
                f"failed ({settings.describe()}): {str(exc).strip()}; check the server, the "
                "DELETE privilege on the marker table and [postgres_topn]"
            ) from exc
