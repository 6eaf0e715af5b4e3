"""The marker target of a top-N load: complete when the marker row and the table both exist."""

from __future__ import annotations

import luigi
import psycopg2

from luigi_ufo.errors import ServiceError
from luigi_ufo.postgres import sql as q
from luigi_ufo.postgres.connection import ConnectionSettings, connect, transaction

__all__ = ["PostgresMarkerTarget"]


class PostgresMarkerTarget(luigi.Target):
    """Exists when ``marker_table`` holds ``(update_id, table)`` and ``table`` itself exists.

    Checking the table too means a dropped table makes the task run again (Luigi's
    ``PostgresTarget`` checks only the marker). Each check opens and closes its own connection.
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
        """Return the connection settings (``[ufo_postgres]`` read now if none were given)."""
        return self._settings or ConnectionSettings.from_config()

    def exists(self) -> bool:
        """Tell whether the marker row for (update_id, table) and the table both exist."""
        settings = self.settings
        try:
            with connect(settings) as conn, transaction(conn) as cur:
                cur.execute(q.TABLE_EXISTS, (self.marker_table.quoted,))
                marker_row = cur.fetchone()
                if not (marker_row and marker_row[0]):
                    return False
                cur.execute(q.TABLE_EXISTS, (self.table.quoted,))
                table_row = cur.fetchone()
                if not (table_row and table_row[0]):
                    return False
                cur.execute(q.select_marker(self.marker_table, self.update_id, self.table))
                return cur.fetchone() is not None
        except psycopg2.Error as exc:
            raise ServiceError(
                f"checking marker {self.update_id!r} for {self.table} in {self.marker_table} "
                f"failed ({settings.describe()}): {str(exc).strip()}; check the server and "
                "[ufo_postgres]"
            ) from exc
