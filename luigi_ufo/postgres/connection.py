"""Connections from :class:`~luigi_ufo.postgres.settings.ConnectionSettings`: connect, transaction.

The password never passes through here: libpq reads ``PGPASSWORD`` or ``.pgpass`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg2
import psycopg2.extensions

from luigi_ufo.errors import ServiceError
from luigi_ufo.postgres.settings import ConnectionSettings

__all__ = ["connect", "transaction"]


@contextmanager
def connect(settings: ConnectionSettings) -> Iterator[psycopg2.extensions.connection]:
    """Open a connection and always close it, whatever happens inside."""
    try:
        conn = psycopg2.connect(psycopg2.extensions.make_dsn(**settings.params()))
    except psycopg2.OperationalError as exc:
        raise ServiceError(
            f"cannot connect to PostgreSQL ({settings.describe()}): {str(exc).strip()}; "
            "check [postgres_topn], that the server runs, and PGPASSWORD or ~/.pgpass"
        ) from exc
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(
    conn: psycopg2.extensions.connection,
) -> Iterator[psycopg2.extensions.cursor]:
    """Yield a cursor; commit if the block succeeds, roll back if it raises."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        # A terminated backend leaves nothing to roll back (the server discarded the
        # transaction), and a failing rollback must not hide the error that caused it.
        if not conn.closed:
            with suppress(psycopg2.Error):
                conn.rollback()
        raise
