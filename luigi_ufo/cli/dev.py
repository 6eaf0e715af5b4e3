"""``luigi-ufo dev [start|status|stop]``: the laptop cluster's command.

``start`` (the default) starts the services, writes the luigi.cfg and then stays in the
foreground until Ctrl-C or SIGTERM (or ``stop`` from another terminal), stopping what it started;
``--detach`` returns once everything is up. ``status`` lists each service with its URL and PID
(exit 3 when none runs); ``stop`` stops a running ``dev``'s services, wherever it was started.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luigi_ufo.cli import dev_config as cfg
from luigi_ufo.errors import ConfigError, ServiceError
from luigi_ufo.exit_status import EXIT_FAILED, EXIT_NOT_RUNNING, EXIT_OK
from luigi_ufo.services.stack_state import DevState, Service, new_state, read_state

if TYPE_CHECKING:
    from luigi_ufo.services import stack as services

#: How long ``stop`` waits for a foreground ``dev`` to stop its services itself.
OWNER_STOP_TIMEOUT = 120.0
Say = Callable[[str], None]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``dev`` on the ``luigi-ufo`` parser."""
    dev = sub.add_parser(
        "dev",
        help="luigid, Spark standalone, PostgreSQL (and S3, Connect) on loopback, and a luigi.cfg",
    )
    dev.add_argument("action", nargs="?", choices=["start", "status", "stop"], default="start")
    dev.add_argument("--spark-workers", type=_positive, default=1, metavar="N", help="default 1")
    dev.add_argument("--s3", action="store_true", help="an S3 lake on a moto server")
    dev.add_argument("--connect", action="store_true", help="a warm Spark Connect server")
    dev.add_argument(
        "--jars", default=None, help="s3a jars, comma-separated (default $LUIGI_UFO_SPARK_JARS)"
    )
    dev.add_argument("--config", type=Path, default=Path("luigi.cfg"), help="default ./luigi.cfg")
    dev.add_argument("--force", action="store_true", help="overwrite a luigi.cfg dev did not write")
    dev.add_argument("--detach", action="store_true", help="return once everything is up")


@dataclass(frozen=True)
class Options:
    """What to start."""

    workers: int = 1
    s3: bool = False
    connect: bool = False
    jars: Sequence[str] = ()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not at least 1")
    return value


def base_dir() -> Path:
    """Where ``dev`` keeps its state, logs and luigid's history: ``<data dir>/dev``."""
    from luigi_ufo.paths import data_dir

    return data_dir() / "dev"


def main(args: argparse.Namespace, say: Say) -> int:
    """Run ``luigi-ufo dev ACTION``; return the exit status."""
    base = base_dir()
    state_path = base / "state.json"
    if args.action == "status":
        return _status(read_state(state_path))
    if args.action == "stop":
        return _stop(state_path, say)
    return _start(args, base, state_path, say)


def describe(service: Service) -> str:
    """One status line: name, URL, web UI, PID and whether dev stops it."""
    web = f"  web {service.web_url}" if service.web_url else ""
    left = "" if service.ours else "  (was running before dev: left running at stop)"
    return f"{service.name:<15} {service.url}{web}  pid {service.pid}{left}"


def _report(state: DevState) -> None:
    for service in state.alive():
        print(describe(service))
    print(f"{'luigi.cfg':<15} {state.config}")
    auth = base_dir() / "spark" / "auth.properties"
    if auth.exists():
        print(
            f"{'spark secret':<15} {auth}  (spark.authenticate; only you can read it: "
            "luigi.cfg passes it to spark-submit as properties_file, other tools as "
            "--properties-file)"
        )
    if state.env_file:
        print(f"{'env file':<15} {state.env_file}  (moto's fake AWS keys: source it)")
    sys.stdout.flush()


def _status(state: DevState | None) -> int:
    if state is None or not state.alive():
        print("luigi-ufo dev is not running; start it with `luigi-ufo dev`")
        return EXIT_NOT_RUNNING
    if state.owner_alive():
        how = "in the foreground"
    elif state.detached:
        how = "detached"
    else:
        how = (
            "killed before it could stop what it started: left running below; `luigi-ufo dev "
            "stop` or a new `luigi-ufo dev` stops them"
        )
    print(f"{'luigi-ufo dev':<15} pid {state.owner_pid} ({how})")
    _report(state)
    return EXIT_OK


def _stop(state_path: Path, say: Say) -> int:
    state = read_state(state_path)
    if state is None or not (state.alive() or state.owner_alive()):
        state_path.unlink(missing_ok=True)
        say("dev: nothing is running")
        return EXIT_OK
    if state.owner_alive() and state.owner_pid != os.getpid():
        # The foreground (or still starting) dev stops its own children and reaps them.
        say(f"dev: asking luigi-ufo dev (pid {state.owner_pid}) to stop what it started")
        os.kill(state.owner_pid, signal.SIGTERM)
        deadline = time.monotonic() + OWNER_STOP_TIMEOUT
        while state.owner_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        state = read_state(state_path)
    if state is not None:
        from luigi_ufo.services import stack as services

        services.stop_services(state, say, {})
        state_path.unlink(missing_ok=True)
    say("dev: stopped")
    return EXIT_OK


def _finish_orphans(state: DevState, state_path: Path, say: Say) -> None:
    """Stop what a killed foreground ``dev`` left running, before starting anew."""
    from luigi_ufo.services import stack as services

    left = ", ".join(f"{s.name} (pid {s.pid})" for s in state.alive() if s.ours)
    say(
        f"dev: luigi-ufo dev (pid {state.owner_pid}) was killed and left {left or 'nothing'} "
        "running; stopping them first"
    )
    services.stop_services(state, say, {})
    state_path.unlink(missing_ok=True)


def _jars(args: argparse.Namespace) -> list[str]:
    from luigi_ufo.services.spark_home import JARS_ENV, find_s3a_jars

    if args.jars:
        listed = [Path(p.strip()).resolve() for p in args.jars.split(",") if p.strip()]
        missing = [str(p) for p in listed if not p.is_file()]
        if missing:
            raise ConfigError(f"--jars names missing files: {', '.join(missing)}")
        return [str(p) for p in listed]
    found = find_s3a_jars()
    if found is None:
        raise ConfigError(
            "--s3 needs the hadoop-aws and aws-java-sdk-bundle jars of pyspark's Hadoop: pass "
            f"--jars A.jar,B.jar or set {JARS_ENV} (.ci/fetch-s3a-jars downloads them)"
        )
    return [str(p.resolve()) for p in found]


@contextlib.contextmanager
def _start_lock(base: Path) -> Iterator[None]:
    base.mkdir(parents=True, exist_ok=True)
    with (base / "start.lock").open("a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(
                "another luigi-ufo dev is starting right now; see `luigi-ufo dev status`"
            ) from None
        yield


def _start(args: argparse.Namespace, base: Path, state_path: Path, say: Say) -> int:
    from luigi_ufo.services import stack as services
    from luigi_ufo.services.shared_postgres import signals_deferred

    config = args.config.expanduser().resolve()
    cfg.check_writable(config, force=args.force)
    options = Options(
        workers=args.spark_workers,
        s3=args.s3,
        connect=args.connect,
        jars=_jars(args) if args.s3 else (),
    )
    if args.connect:  # refused before anything starts, e.g. on pyspark 3.5
        from luigi_ufo.spark.connect.runner import require_connect_client

        require_connect_client()
    env_file = base / "s3.env" if args.s3 else None
    with _start_lock(base):
        running = read_state(state_path)
        if running is not None and running.orphaned():
            _finish_orphans(running, state_path, say)
            running = None
        if running is not None and running.alive():
            say(
                f"dev: already running (started by pid {running.owner_pid}); not starting a "
                "second one: `luigi-ufo dev stop` stops it"
            )
            _report(running)
            return EXIT_FAILED
        session = services.Session(state_path, new_state(config, env_file))
        try:
            found = services.start(session, base, workers=options.workers, s3=options.s3, say=say)
            if options.connect:
                found["connect"] = _connect(session, found, options, say)
            if env_file is not None:
                cfg.write_env_file(env_file, services.s3_env())
            cfg.write(config, cfg.render(_topology(found, options)))
        except BaseException:
            with signals_deferred():
                session.stop(say)
            raise
    _report(session.state)
    if args.detach:
        session.detach()
        say("dev: up; `luigi-ufo dev stop` stops it")
        return EXIT_OK
    say("dev: up; Ctrl-C (or `luigi-ufo dev stop`) stops what it started")
    try:
        _watch(session)
    finally:
        with signals_deferred():
            session.stop(say)
    return EXIT_FAILED  # pragma: no cover - _watch returns only by raising


def _connect(
    session: services.Session, found: Mapping[str, str], options: Options, say: Say
) -> str:
    """Use the running Connect server of ``luigi-ufo connect``, else start it on the cluster."""
    from luigi_ufo.services.ports import free_port
    from luigi_ufo.services.spark_connect import default_state_file, read_state
    from luigi_ufo.services.stack import s3_env, s3_options
    from luigi_ufo.settings.sections import config_overrides
    from luigi_ufo.spark.connect.server import start_server
    from luigi_ufo.spark.settings import SparkSettings

    state_file = default_state_file()
    running = read_state(state_file)
    if running is not None and running.running():
        say(
            f"using the Spark Connect server already running at {running.url} (master "
            f"{running.master}); `luigi-ufo dev stop` leaves it running"
        )
        return session.add_connect(running, ours=False)
    # The master's secret reaches the server's SparkContext by properties file, never argv.
    settings = SparkSettings(
        master=found["master"], jars=tuple(options.jars), properties_file=found["spark_properties"]
    )
    with config_overrides() as set_option, _environ(s3_env() if "s3" in found else {}):
        if "s3" in found:
            for key, value in s3_options(found["s3"]).items():
                set_option("s3_endpoint", key, value)
        server = start_server(
            state_file, settings=settings, port=None, ui_port=free_port(), s3="s3" in found
        )
    return session.add_connect(server, ours=True)


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _topology(found: dict[str, str], options: Options) -> cfg.Topology:
    from luigi_ufo.paths import data_dir

    return cfg.Topology(
        scheduler_url=found["luigid"],
        spark_master=found["master"],
        dsn=found["dsn"],
        lake=found.get("lake", str(data_dir() / "lake")),
        spark_properties=found.get("spark_properties"),
        s3_endpoint=found.get("s3"),
        jars=options.jars,
        connect_url=found.get("connect"),
    )


def _watch(session: services.Session) -> None:
    """Return never: raise ServiceError when a service dev started stops by itself."""
    while True:
        time.sleep(1.0)
        for service in session.state.services:
            if service.ours and not service.alive():
                from luigi_ufo.services.logs import tail

                raise ServiceError(
                    f"{service.name} (pid {service.pid}) stopped by itself; stopping the rest. "
                    f"Log tail ({service.log}):\n{tail(Path(service.log), 20)}"
                )
