"""``luigi-ufo connect start|stop|status``: a local Spark Connect server for connect mode.

``start`` runs the server against ``--master`` (default ``[spark_script] master``) on
loopback, with ``[spark_script]``'s jars and conf and, with ``--s3``, the s3a settings of
``[s3_endpoint]``; it prints the ``sc://`` URL to put in ``[spark_script] connect_url``.
``stop`` ends it (JVM and Python workers, by process group); ``status`` shows it (exit 3 when it
is not running, like ``db status`` and ``dev status``). The state
lives in the per-user data dir.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from luigi_ufo.errors import LuigiUfoError
from luigi_ufo.exit_status import EXIT_NOT_RUNNING, EXIT_OK
from luigi_ufo.services.spark_connect import (
    DEFAULT_PORT,
    HOST,
    ConnectServer,
    default_state_file,
    read_state,
    stop_server,
)
from luigi_ufo.spark.connect.token import TOKEN_ENV
from luigi_ufo.spark.settings import SECTION


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``connect`` and its subcommands on the ``luigi-ufo`` parser."""
    connect = sub.add_parser("connect", help="start, stop or show a local Spark Connect server")
    actions = connect.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start a server and print its sc:// URL")
    start.add_argument("--master", default=None, help=f"default: [{SECTION}] master")
    start.add_argument("--host", default=HOST, help=f"bind address (default {HOST})")
    start.add_argument("--port", type=int, default=DEFAULT_PORT, help="gRPC port (0: any free)")
    start.add_argument("--ui-port", type=int, default=None, help="Spark web UI port (default off)")
    start.add_argument(
        "--s3", action="store_true", help="give the server [s3_endpoint]'s s3a settings"
    )
    start.add_argument("--jars", default=None, help="comma-separated jars, e.g. hadoop-aws's")
    for action in (start, actions.add_parser("stop"), actions.add_parser("status")):
        action.add_argument("--state-file", type=Path, default=None, help=argparse.SUPPRESS)
        action.add_argument("--json", action="store_true", help="print one JSON object")


def main(args: argparse.Namespace) -> int:
    """Run ``luigi-ufo connect ACTION``; return the exit status."""
    state_file = args.state_file or default_state_file()
    try:
        if args.action == "start":
            return _start(args, state_file)
        if args.action == "stop":
            _say(stop_server(state_file))
            return 0
        return _status(args, state_file)
    except LuigiUfoError as exc:
        _say(f"error: {exc}")
        return 2


def _start(args: argparse.Namespace, state_file: Path) -> int:
    from luigi_ufo.spark.connect.server import start_server
    from luigi_ufo.spark.settings import SparkSettings

    settings = SparkSettings.from_config()
    overrides = {"master": args.master, "jars": args.jars}
    settings = settings.override({k: v for k, v in overrides.items() if v is not None})
    began = time.monotonic()
    server = start_server(
        state_file,
        settings=settings,
        host=args.host,
        port=args.port or None,
        ui_port=args.ui_port,
        s3=args.s3,
    )
    if args.json:
        print(json.dumps(server.as_json()))
    else:
        _say(
            f"Spark Connect {server.version} server at {server.url} (pid {server.pid}, master "
            f"{server.master}) started in {time.monotonic() - began:.1f} s; log {server.log}"
        )
        _say(how_to_connect(server))
        print(server.url)
    return 0


def _status(args: argparse.Namespace, state_file: Path) -> int:
    server = read_state(state_file)
    running = server is not None and server.running()
    if args.json:
        doc = {"running": running, **(dataclasses.asdict(server) if server else {})}
        print(json.dumps(doc))
    elif server is None:
        _say("no Spark Connect server recorded; start one with `luigi-ufo connect start`")
    elif not running:
        _say(f"the Spark Connect server recorded at {server.url} (pid {server.pid}) is not running")
    else:
        up = time.time() - server.started_at
        ui = f", web UI {server.ui_url}" if server.ui_url else ""
        _say(
            f"running: {server.url}, pid {server.pid}, master {server.master}, up {up:.0f} s"
            f"{ui}; log {server.log}"
        )
        _say(how_to_connect(server))
    return EXIT_OK if running else EXIT_NOT_RUNNING


def how_to_connect(server: ConnectServer) -> str:
    """Say how this user's tools connect: luigi.cfg, and pyspark elsewhere (never the token)."""
    cfg = f"[{SECTION}] mode = connect, connect_url = {server.url}"
    if not server.token_file:
        return f"connect with luigi.cfg {cfg}"
    return (
        f"connect with luigi.cfg {cfg} (luigi-ufo reads the token from {server.token_file}, "
        "readable by this user only); other pyspark clients: export "
        f'{TOKEN_ENV}="$(cat {server.token_file})" and use {server.url}'
    )


def _say(message: str) -> None:
    print(f"luigi-ufo connect: {message}", file=sys.stderr, flush=True)
