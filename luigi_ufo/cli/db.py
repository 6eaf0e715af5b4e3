"""``luigi-ufo db start|stop|status|url|psql``: the per-user PostgreSQL outside a run.

``start`` keeps it running (runs then leave it up) until ``stop``; ``status``, ``url`` and
``psql`` exit 3 when it is not running; ``psql`` passes the arguments after ``--`` to psql.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any

from luigi_ufo.cli.progress import say
from luigi_ufo.errors import ConfigError
from luigi_ufo.exit_status import EXIT_NOT_RUNNING, EXIT_OK
from luigi_ufo.services.shared_postgres import per_user_server


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``db`` on the ``luigi-ufo`` parser."""
    db = sub.add_parser("db", help="the per-user PostgreSQL: start, stop, status, url, psql")
    actions = db.add_subparsers(dest="action", required=True)
    actions.add_parser("start", help="start it and keep it running (runs leave it up)")
    actions.add_parser("stop", help="stop it (once no run uses it)")
    actions.add_parser("status", help="print its URL and PID, or exit 3 if it is not running")
    actions.add_parser("url", help="print its libpq URL (for psql, psycopg2, luigi.cfg's dsn)")
    psql = actions.add_parser("psql", help="open psql on it; arguments after -- go to psql")
    psql.add_argument("psql_args", nargs="*", metavar="-- PSQL_ARG")


def main(args: argparse.Namespace) -> int:
    """Run ``luigi-ufo db ACTION``; return the exit status."""
    server = per_user_server(say)
    where = f"data in {str(server.base_dir)!r}"
    if args.action == "start":
        status = server.start_kept()
        how = "was already running" if status.adopted else "started"
        say(f"PostgreSQL {how} (pid {status.pid}), {where}; it runs until `luigi-ufo db stop`")
        say(how_to_connect(status.url))
        print(status.url)
        return EXIT_OK
    if args.action == "stop":
        say(f"PostgreSQL {server.stop()}, {where}")
        return EXIT_OK
    running = server.status()
    if args.action == "status":
        if running is None:
            print(f"not running ({where}); start it with `luigi-ufo db start`")
            return EXIT_NOT_RUNNING
        who = "kept by `luigi-ufo db start`" if running.kept else "started by a luigi-ufo run"
        print(f"running {running.url} pid {running.pid} ({who}; {where})")
        return EXIT_OK
    url = server.url() if args.action == "url" else None
    if url is not None:  # a stopped server's too: the URL its next start will use
        say(how_to_connect(url))
        print(url)
    if running is None:
        say(f"PostgreSQL is not running ({where}); start it with `luigi-ufo db start`")
        return EXIT_NOT_RUNNING
    return EXIT_OK if args.action == "url" else _exec_psql(running.url, args.psql_args)


def how_to_connect(url: str) -> str:
    """Say how psql, psycopg2 and luigi.cfg connect to the per-user server at ``url``."""
    return (
        f"connect with psql '{url}', psycopg2.connect('{url}') or, in luigi.cfg, [postgres_topn] "
        f"dsn = {url.replace('%', '%%')} (a Unix socket in a private directory: only this user "
        "can connect; no password)"
    )


def _exec_psql(url: str, extra: list[str]) -> int:
    from luigi_ufo.services.postgres import find_bindir

    bindir = find_bindir()
    candidates = [str(bindir / "psql")] if bindir is not None else []
    found = next((c for c in candidates if os.access(c, os.X_OK)), None) or shutil.which("psql")
    if found is None:
        raise ConfigError(
            "psql was not found beside the PostgreSQL server binaries or on PATH; install the "
            f"PostgreSQL client (e.g. apt-get install postgresql-client) or connect to {url}"
        )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(found, [found, url, *extra])  # noqa: S606 - an argv list, no shell
