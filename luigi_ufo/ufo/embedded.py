"""Embedded defaults for ``luigi-ufo run``: what to start when luigi.cfg configures nothing."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import luigi.cmdline_parser
import luigi.configuration

from luigi_ufo.errors import DatabaseNotRunningError, JavaNotFoundError
from luigi_ufo.exit_status import EXIT_NOT_RUNNING
from luigi_ufo.ufo.settings import data_dir

if TYPE_CHECKING:
    from luigi_ufo.postgres.connection import ConnectionSettings
    from luigi_ufo.postgres.shared import ServerStatus, SharedServer

POSTGRES_KEYS = ("dsn", "host", "port", "database", "user")
# Luigi's parser also finds the dashed spellings (default-scheduler-url) under these names.
SCHEDULER_KEYS = ("default_scheduler_url", "scheduler_url", "default_scheduler_host")
#: libpq's connection variables: one set means the user chose a server outside luigi.cfg.
LIBPQ_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE")


def find_java() -> str:
    """Return the java executable spark-submit will use, or raise JavaNotFoundError."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if os.access(java, os.X_OK):
            return str(java)
        raise JavaNotFoundError(
            f"JAVA_HOME={home!r} has no bin/java; point JAVA_HOME at a Java 17 runtime "
            "or unset it to use java from PATH"
        )
    found = shutil.which("java")
    if found is None:
        raise JavaNotFoundError(
            "java was not found on PATH and JAVA_HOME is unset; Spark needs Java 17: install it "
            "(e.g. apt-get install openjdk-17-jre-headless, brew install openjdk@17) or set "
            "JAVA_HOME"
        )
    return found


def configured(section: str, keys: tuple[str, ...]) -> bool:
    """Tell whether luigi's configuration sets any of ``keys`` in ``section``."""
    config = luigi.configuration.get_config()  # type: ignore[no-untyped-call]
    return any(config.has_option(section, key) for key in keys)


def use_local_scheduler() -> bool:
    """Tell whether to use Luigi's local scheduler (no central scheduler configured)."""
    return not configured("core", SCHEDULER_KEYS)


def per_user_server(say: Callable[[str], None] = lambda _: None) -> SharedServer:
    """Return the per-user PostgreSQL (``<data dir>/postgres``) that ``luigi-ufo db`` manages."""
    from luigi_ufo.postgres.shared import SharedServer

    return SharedServer(data_dir() / "postgres", say=say)


def postgres_configured() -> bool:
    """Tell whether luigi.cfg configures the top-N database (else runs use the per-user one)."""
    # [ufo_postgres] is the section's former name, still read.
    return configured("postgres_topn", POSTGRES_KEYS) or configured("ufo_postgres", POSTGRES_KEYS)


def _is_per_user_server(params: Mapping[str, str], server_url: str) -> bool:
    """Tell whether libpq ``params`` name the server of ``server_url`` (its socket directory)."""
    import psycopg2.extensions

    server = psycopg2.extensions.parse_dsn(server_url)

    def where(values: Mapping[str, str]) -> tuple[str, str]:
        host = values.get("hostaddr") or values.get("host") or ""
        if host.startswith("/"):  # a Unix socket directory: compare the real paths
            host = os.path.realpath(host)
        return host, values.get("port") or "5432"

    return where(params) == where(server)


def _not_running(server: SharedServer, why: str) -> NoReturn:
    message = (
        f"PostgreSQL is not running (data in {str(server.base_dir)!r}); {why}; "
        "start it with `luigi-ufo db start`"
    )
    # Under Luigi's own command line (python -m luigi) the status would be [retcode]
    # scheduling_error, 0 by default: exit 3 as `luigi-ufo db url` does.
    if luigi.cmdline_parser.CmdlineParser.get_instance() is not None:  # type: ignore[no-untyped-call]
        print(f"luigi-ufo: {message}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_NOT_RUNNING)
    raise DatabaseNotRunningError(message)


def require_per_user_server(params: Mapping[str, str]) -> None:
    """Stop with exit 3 if ``params`` (libpq) name the per-user server and it is stopped.

    The tutorial's luigi.cfg points ``[postgres_topn] dsn`` at ``luigi-ufo db url``; once that
    server is stopped the fix is ``luigi-ufo db start``, not a connection error. Raises
    DatabaseNotRunningError; under ``python -m luigi`` prints the message and exits 3.
    """
    server = per_user_server()
    url = server.url()
    if url is not None and _is_per_user_server(params, url) and server.status() is None:
        _not_running(server, f"luigi.cfg's [postgres_topn] points at it ({url})")


def top_n_database(settings: ConnectionSettings) -> ConnectionSettings:
    """Return where the reference pipeline loads: ``settings``, else the per-user server.

    With neither ``[postgres_topn]`` nor a libpq variable (``PGHOST``, ``PGSERVICE``, ...) set,
    the pipeline uses the per-user PostgreSQL of ``luigi-ufo db``, under ``python -m luigi`` as
    under ``luigi-ufo run``; stopped, it is exit 3 saying ``luigi-ufo db start`` (see
    :func:`require_per_user_server`, which also applies to a configured one).
    """
    if postgres_configured() or any(os.environ.get(name) for name in LIBPQ_ENV):
        require_per_user_server(settings.params())
        return settings
    server = per_user_server()
    status = server.status()
    if status is None:
        _not_running(server, "the pipeline uses it when luigi.cfg sets no [postgres_topn]")
    return dataclasses.replace(settings, dsn=status.url)


@contextlib.contextmanager
def embedded_postgres(
    set_option: Callable[[str, str, str], None], say: Callable[[str], None] = lambda _: None
) -> Iterator[ServerStatus]:
    """Use the per-user PostgreSQL (``[postgres_topn]`` unconfigured); yield its status.

    The server is shared: a running one (from ``luigi-ufo db start``, a concurrent run, or a
    killed run) is used as it is; one this block starts is stopped when the last user leaves.
    The data directory persists, so results stay queryable between runs.
    """
    with per_user_server(say).use() as status:
        # luigi's configuration parser reads '%' as interpolation (a socket path may have one).
        set_option("postgres_topn", "dsn", status.url.replace("%", "%%"))
        yield status
