"""Connection settings: merging, password refusal, safe descriptions; no server needed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from luigi_ufo.errors import ConfigError, ServiceError
from luigi_ufo.postgres.connection import connect
from luigi_ufo.postgres.settings import ConnectionSettings


def test_fields_become_libpq_keywords() -> None:
    settings = ConnectionSettings(
        host="db", port=6543, database="ufo", user="loader", sslmode="require", connect_timeout=3
    )
    assert settings.params() == {
        "host": "db",
        "port": "6543",
        "dbname": "ufo",
        "user": "loader",
        "sslmode": "require",
        "connect_timeout": "3",
        "application_name": "luigi-ufo",
    }


def test_unset_fields_are_left_to_libpq() -> None:
    assert ConnectionSettings().params() == {
        "connect_timeout": "10",
        "application_name": "luigi-ufo",
    }


def test_dsn_keys_win_and_uris_are_accepted() -> None:
    settings = ConnectionSettings(dsn="postgresql://u@h:7/d?sslmode=disable", host="other", port=1)
    params = settings.params()
    assert (params["host"], params["port"], params["dbname"], params["user"]) == (
        "h",
        "7",
        "d",
        "u",
    )
    assert params["sslmode"] == "disable"
    assert settings.describe() == (
        "host=h port=7 dbname=d user=u sslmode=disable application_name=luigi-ufo"
    )


@pytest.mark.parametrize(
    "dsn",
    ["host=h password=s3cr3t-value", "postgresql://u:s3cr3t-value@h/d"],
)
def test_password_in_dsn_is_refused_without_echo(dsn: str) -> None:
    with pytest.raises(ConfigError, match=r"PGPASSWORD or ~/.pgpass") as info:
        ConnectionSettings(dsn=dsn).params()
    assert "s3cr3t-value" not in str(info.value)


def test_invalid_dsn_is_refused_without_echo() -> None:
    with pytest.raises(ConfigError, match=r"not a valid libpq DSN") as info:
        ConnectionSettings(dsn="host=h s3cr3t-value").params()
    assert "s3cr3t-value" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_from_config_reads_the_section_at_call_time(
    luigi_config: Callable[[str, str, str], None],
) -> None:
    luigi_config("postgres_topn", "host", "cfg-host")
    luigi_config("postgres_topn", "port", "5555")
    luigi_config("postgres_topn", "connect_timeout", "4")
    settings = ConnectionSettings.from_config()
    assert (settings.host, settings.port, settings.connect_timeout) == ("cfg-host", 5555, 4)
    assert settings.dsn is None


def test_unreachable_server_is_a_service_error_naming_the_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Unix socket directory that does not exist fails at once, with no network involved.
    monkeypatch.setenv("PGPASSWORD", "s3cr3t-value")
    settings = ConnectionSettings(host="/nonexistent-luigi-ufo-dir", port=5, connect_timeout=1)
    with (
        pytest.raises(ServiceError, match=r"host=/nonexistent-luigi-ufo-dir port=5") as info,
        connect(settings),
    ):
        pass
    assert "s3cr3t-value" not in str(info.value)
