"""Connections from ``[ufo_postgres]``: settings value object, connect and transaction helpers.

The password never passes through here: libpq reads ``PGPASSWORD`` or the ``.pgpass`` file
(``PGPASSFILE``) itself, so it is never in configuration, logs or exception text. A DSN holding a
password is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg2
import psycopg2.extensions

from luigi_ufo.errors import ConfigError, ServiceError

if TYPE_CHECKING:
    from luigi_ufo.config import ufo_postgres

__all__ = ["ConnectionSettings", "connect", "transaction"]

# Shown in descriptions; everything else in a DSN (options, sslkey paths, ...) is left out.
_SHOWN = ("host", "hostaddr", "port", "dbname", "user", "sslmode", "application_name")


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; ``dsn`` keys win over the separate fields."""

    dsn: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    sslmode: str | None = None
    connect_timeout: int = 10
    application_name: str = "luigi-ufo"

    @classmethod
    def from_config(cls, section: ufo_postgres | None = None) -> ConnectionSettings:
        """Read ``[ufo_postgres]`` now (not at import) unless a section object is given."""
        from luigi_ufo.config import section_values, ufo_postgres

        if section is None:
            section = ufo_postgres()  # type: ignore[no-untyped-call]
        return cls(**section_values(section, cls))

    def params(self) -> dict[str, str]:
        """Return libpq keyword parameters; raise ConfigError for a DSN with a password."""
        params: dict[str, str] = {
            "connect_timeout": str(self.connect_timeout),
            "application_name": self.application_name,
        }
        fields = {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.user,
            "sslmode": self.sslmode,
        }
        params.update({k: str(v) for k, v in fields.items() if v is not None})
        if self.dsn:
            try:
                parsed = psycopg2.extensions.parse_dsn(self.dsn)
            except psycopg2.ProgrammingError:
                # The text may hold a secret, so neither it nor libpq's message is repeated.
                raise ConfigError(
                    "[ufo_postgres] dsn is not a valid libpq DSN or URI; write it as "
                    "'host=H port=P dbname=D user=U' or 'postgresql://U@H:P/D'"
                ) from None
            if "password" in parsed:
                raise ConfigError(
                    "[ufo_postgres] dsn contains a password; remove it and put the password in "
                    "PGPASSWORD or ~/.pgpass (PGPASSFILE) instead"
                )
            params.update(parsed)
        return params

    def describe(self) -> str:
        """Return a loggable description (host, port, database, user; never a secret)."""
        params = self.params()
        return " ".join(f"{k}={params[k]}" for k in _SHOWN if k in params)


@contextmanager
def connect(settings: ConnectionSettings) -> Iterator[psycopg2.extensions.connection]:
    """Open a connection and always close it, whatever happens inside."""
    try:
        conn = psycopg2.connect(psycopg2.extensions.make_dsn(**settings.params()))
    except psycopg2.OperationalError as exc:
        raise ServiceError(
            f"cannot connect to PostgreSQL ({settings.describe()}): {str(exc).strip()}; "
            "check [ufo_postgres], that the server runs, and PGPASSWORD or ~/.pgpass"
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
