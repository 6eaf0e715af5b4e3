"""The ``[postgres_topn]`` section: where and how to connect, and where marker rows go.

The password never passes through here: libpq reads ``PGPASSWORD`` or the ``.pgpass`` file
(``PGPASSFILE``) itself, so it is never in configuration, logs or exception text. A DSN holding a
password is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import psycopg2
import psycopg2.extensions

from luigi_ufo.errors import ConfigError
from luigi_ufo.secrets import hint_for, is_credential_name, refuse, refuse_credentials
from luigi_ufo.settings.fields import check_fields, setting
from luigi_ufo.settings.sections import config_section, read_section

__all__ = ["ConnectionSettings", "PostgresTopNSettings", "postgres_topn"]

SECTION = "postgres_topn"
# Shown in descriptions; everything else in a DSN (options, sslkey paths, ...) is left out.
_SHOWN = ("host", "hostaddr", "port", "dbname", "user", "sslmode", "application_name")


def _port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "a TCP port, 1 to 65535"


def _no_password(value: str) -> str | None:
    # Raised, not returned: the returned text is shown next to the value, here a secret.
    refuse_credentials(f"[{SECTION}] dsn", value, hint_for(SECTION, "dsn"))
    return None


def _not_negative(value: int) -> str | None:
    return None if value >= 0 else "whole seconds, 0 for none"


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; ``dsn`` keys win over the separate fields."""

    dsn: str | None = setting(
        None,
        "libpq DSN or URI without password; its keys win over the fields below",
        check=_no_password,
    )
    host: str | None = setting(None, "host name or socket directory")
    port: int | None = setting(None, "TCP port", check=_port)
    database: str | None = setting(None, "database name")
    user: str | None = setting(None, "user name")
    sslmode: str | None = setting(None, "disable, allow, prefer, require, verify-ca or verify-full")
    connect_timeout: int = setting(10, "whole seconds", check=_not_negative)
    application_name: str = setting("luigi-ufo", "application_name shown in pg_stat_activity")

    def __post_init__(self) -> None:
        check_fields(self, f"[{SECTION}]")

    @classmethod
    def from_config(cls) -> ConnectionSettings:
        """Read the connection settings of ``[postgres_topn]`` now (not at import)."""
        values = read_section(SECTION)
        return cls(**{f.name: values[f.name] for f in fields(ConnectionSettings)})

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
                    "[postgres_topn] dsn is not a valid libpq DSN or URI; write it as "
                    "'host=H port=P dbname=D user=U' or 'postgresql://U@H:P/D'"
                ) from None
            for key in parsed:
                if is_credential_name(key):
                    refuse(f"[{SECTION}] dsn", f"has key {key!r}", hint_for(SECTION, "dsn"))
            params.update(parsed)
        return params

    def describe(self) -> str:
        """Return a loggable description (host, port, database, user; never a secret)."""
        params = self.params()
        return " ".join(f"{k}={params[k]}" for k in _SHOWN if k in params)


@dataclass(frozen=True)
class PostgresTopNSettings(ConnectionSettings):
    """Every ``[postgres_topn]`` setting: the connection, and where marker rows go."""

    marker_table: str = setting("luigi_ufo_markers", "marker table; 'schema.table' allowed")

    @classmethod
    def from_config(cls) -> PostgresTopNSettings:
        """Read ``[postgres_topn]`` now (command line, luigi.cfg / LUIGI_CONFIG_PATH)."""
        return cls(**read_section(SECTION))


#: ``[postgres_topn]``: the luigi.Config section of PostgresTopNSettings.
postgres_topn = config_section(SECTION, PostgresTopNSettings)
