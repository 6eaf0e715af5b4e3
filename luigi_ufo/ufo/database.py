"""Where the reference pipeline loads its top table: luigi.cfg's server, else the per-user one.

With neither ``[postgres_topn]`` nor a libpq variable set, ``TopStatesToDatabase`` uses the
per-user PostgreSQL that ``luigi-ufo db`` manages, under ``python -m luigi`` as under
``luigi-ufo run`` (which starts it for the run); a stopped one is exit 3 saying ``luigi-ufo db
start``, whether it is the default or luigi.cfg names it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, NoReturn

import luigi.cmdline_parser

from luigi_ufo.errors import DatabaseNotRunningError
from luigi_ufo.exit_status import EXIT_NOT_RUNNING
from luigi_ufo.settings.sections import configured

if TYPE_CHECKING:
    from luigi_ufo.postgres.settings import ConnectionSettings
    from luigi_ufo.services.shared_postgres import ServerStatus, SharedServer

POSTGRES_KEYS = ("dsn", "host", "port", "database", "user")
#: libpq's connection variables: one set means the user chose a server outside luigi.cfg.
LIBPQ_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE")


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
    from luigi_ufo.services.shared_postgres import per_user_server

    server = per_user_server()
    url = server.url()
    if url is not None and _is_per_user_server(params, url) and server.status() is None:
        _not_running(server, f"luigi.cfg's [postgres_topn] points at it ({url})")


def top_n_database(settings: ConnectionSettings) -> ConnectionSettings:
    """Return where the reference pipeline loads: ``settings``, else the per-user server."""
    from luigi_ufo.services.shared_postgres import per_user_server

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
    """Use the per-user PostgreSQL for a run (``[postgres_topn]`` unconfigured); yield its status.

    The server is shared: a running one (from ``luigi-ufo db start``, a concurrent run, or a
    killed run) is used as it is; one this block starts is stopped when the last user leaves.
    The data directory persists, so results stay queryable between runs.
    """
    from luigi_ufo.services.shared_postgres import per_user_server

    with per_user_server(say).use() as status:
        # luigi's configuration parser reads '%' as interpolation (a socket path may have one).
        set_option("postgres_topn", "dsn", status.url.replace("%", "%%"))
        yield status
