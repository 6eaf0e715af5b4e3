"""Start and stop the services of ``luigi-ufo dev``, with the test harness's native pieces.

luigid, the Spark master and workers and moto are :class:`ServiceProcess` children (each its own
process group, so a Ctrl-C in the terminal reaches only ``dev``, which stops them). PostgreSQL is
the per-user server of ``luigi-ufo db``, the Connect server the one of ``luigi-ufo connect``: one
already running is used and left as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from luigi_ufo.dev.state import DevState, Service, start_time, write_state
from luigi_ufo.errors import ServiceError
from luigi_ufo.net import free_ports
from luigi_ufo.spark.properties import properties_text
from luigi_ufo.testing._process import ServiceProcess, stop_group
from luigi_ufo.testing._service import http_get, wait_until
from luigi_ufo.testing.luigid import luigid_argv, task_list_url
from luigi_ufo.testing.s3 import FAKE_AWS_ENV
from luigi_ufo.testing.spark import alive_workers, daemon_env, master_argv, spark_home, worker_argv

HOST = "127.0.0.1"
BUCKET = "luigi-ufo-dev"
READY_TIMEOUT = 120.0
POSTGRES = "postgres"
VISUALISER = "/static/visualiser/index.html"
CONNECT = "spark-connect"
#: The 0600 properties file (in ``<dev>/spark``) holding the cluster's ``spark.authenticate``
#: secret.
AUTH_PROPERTIES = "auth.properties"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """What to start."""

    workers: int = 1
    s3: bool = False
    connect: bool = False
    jars: Sequence[str] = ()


class Session:
    """The services this process started or found, recorded in ``state_path`` as they come."""

    def __init__(self, state_path: Path, state: DevState) -> None:
        self.state_path = state_path
        self.state = state
        self.processes: dict[int, ServiceProcess] = {}
        write_state(state_path, state)

    def add(self, service: Service, process: ServiceProcess | None = None) -> Service:
        """Record ``service`` (and keep its process, to stop and reap it here)."""
        if process is not None:
            self.processes[process.pid] = process
        self.state = self.state.with_service(service)
        write_state(self.state_path, self.state)
        return service

    def spawn(
        self,
        name: str,
        argv: list[str],
        base: Path,
        *,
        url: str,
        env: Mapping[str, str] | None = None,
        web_url: str = "",
    ) -> Service:
        """Start ``argv`` as service ``name`` logging to ``base/<name>.log``; record it."""
        log = base / f"{name}.log"
        process = ServiceProcess(argv, log=log, env=env, cwd=base)
        started = start_time(process.pid) or 0.0
        service = Service(name, url, process.pid, started, True, str(log), web_url)
        return self.add(service, process)

    def detach(self) -> None:
        """Record that the owner returns on purpose, leaving the services to ``dev stop``."""
        self.state = dataclasses.replace(self.state, detached=True)
        write_state(self.state_path, self.state)

    def stop(self, say: Say) -> None:
        """Stop everything this session started (see :func:`stop_services`)."""
        stop_services(self.state, say, self.processes)
        self.state_path.unlink(missing_ok=True)


def start(session: Session, base: Path, options: Options, say: Say) -> dict[str, str]:
    """Start the topology into ``session``; return the addresses for luigi.cfg."""
    for sub in ("spark", "luigid", "s3"):
        shutil.rmtree(base / sub, ignore_errors=True)
        (base / sub).mkdir(parents=True)
    ports = iter(free_ports(4 + 2 * options.workers, HOST))
    # JVMs and luigid boot in parallel while PostgreSQL starts; then each is waited for.
    luigid = _spawn_luigid(session, base / "luigid", next(ports))
    master, workers = _spawn_spark(session, base / "spark", ports, options.workers)
    moto = _spawn_moto(session, base / "s3", next(ports)) if options.s3 else None
    dsn = _postgres(session, say)
    _wait_http(session, luigid, task_list_url(luigid.url))
    wait_until(
        lambda: alive_workers(_json(f"{master.web_url}/json/")) >= len(workers),
        what=f"Spark master {master.url} with {len(workers)} worker(s)",
        timeout=READY_TIMEOUT,
        alive=lambda: all(session.processes[s.pid].running() for s in (master, *workers)),
        log_tail=lambda: "\n".join(session.processes[s.pid].log_tail() for s in (master, *workers)),
    )
    found = {
        "luigid": luigid.url,
        "master": master.url,
        "dsn": dsn,
        "spark_properties": str(base / "spark" / AUTH_PROPERTIES),
    }
    if moto is not None:
        _wait_http(session, moto, f"{moto.url}/moto-api/")
        _create_bucket(moto.url)
        found["s3"] = moto.url
        found["lake"] = f"s3://{BUCKET}/lake"
    if options.connect:
        found["connect"] = _connect(
            session, master.url, found["spark_properties"], options, moto, say
        )
    return found


def _spawn_luigid(session: Session, base: Path, port: int) -> Service:
    (base / "logs").mkdir()
    argv = luigid_argv(
        python=sys.executable,
        host=HOST,
        port=port,
        logdir=base / "logs",
        state_path=base.parent / "luigid-state.pickle",
    )
    url = f"http://{HOST}:{port}"
    return session.spawn("luigid", argv, base, url=url, web_url=f"{url}{VISUALISER}")


def write_auth_properties(path: Path) -> Path:
    """Write a fresh ``spark.authenticate`` secret to the 0600 properties file ``path``.

    Master, workers and every client (spark-submit, the Connect server) read it with
    ``--properties-file``: the secret is in no argv, and only this user can read the file, so
    only this user can register applications (and so run code) on the cluster.
    """
    text = properties_text(
        {"spark.authenticate": "true", "spark.authenticate.secret": secrets.token_urlsafe(32)}
    )
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def _spawn_spark(
    session: Session, base: Path, ports: Iterator[int], count: int
) -> tuple[Service, list[Service]]:
    home = spark_home()
    for sub in ("logs", "local", "work"):
        (base / sub).mkdir()
    env = daemon_env(home, base, os.environ)
    auth = ["--properties-file", str(write_auth_properties(base / AUTH_PROPERTIES))]
    port, webui = next(ports), next(ports)
    url = f"spark://{HOST}:{port}"
    argv = [*master_argv(home, host=HOST, port=port, webui_port=webui), *auth]
    web = f"http://{HOST}:{webui}"
    master = session.spawn("spark-master", argv, base, url=url, env=env, web_url=web)
    workers = []
    for n in range(1, count + 1):
        wport, wweb = next(ports), next(ports)
        argv = [
            *worker_argv(
                home, master_url=url, host=HOST, port=wport, webui_port=wweb, work_dir=base / "work"
            ),
            *auth,
        ]
        name = f"spark-worker-{n}"
        workers.append(
            session.spawn(name, argv, base, url=url, env=env, web_url=f"http://{HOST}:{wweb}")
        )
    return master, workers


def _spawn_moto(session: Session, base: Path, port: int) -> Service:
    argv = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    return session.spawn("s3", argv, base, url=f"http://{HOST}:{port}")


def _postgres(session: Session, say: Say) -> str:
    from luigi_ufo.ufo.embedded import per_user_server

    server = per_user_server(say)
    before = server.status()
    # One `luigi-ufo db start` keeps is left to `db stop`. Else dev keeps it while it runs; one a
    # run was using is handed back to its runs at stop (stopped only when none uses it).
    kept_before = before is not None and before.kept
    status = before if before is not None and kept_before else server.start_kept()
    session.add(
        Service(
            POSTGRES,
            status.url,
            status.pid,
            start_time(status.pid) or 0.0,
            ours=not kept_before,
            log=str(server.base_dir / "postgres.log"),
        )
    )
    return status.url


def _connect(
    session: Session,
    master: str,
    properties: str,
    options: Options,
    moto: Service | None,
    say: Say,
) -> str:
    from luigi_ufo.config import config_overrides
    from luigi_ufo.spark.connect_cli import default_state_file
    from luigi_ufo.spark.connect_server import read_state, start_server
    from luigi_ufo.spark.settings import SparkSettings

    state_file = default_state_file()
    running = read_state(state_file)
    if running is not None and running.running():
        say(
            f"using the Spark Connect server already running at {running.url} (master "
            f"{running.master}); `luigi-ufo dev stop` leaves it running"
        )
        server, ours = running, False
    else:
        ui_port = free_ports(1, HOST)[0]
        # The master's secret reaches the server's SparkContext by properties file, never argv.
        settings = SparkSettings(
            master=master, jars=tuple(options.jars), properties_file=properties
        )
        with config_overrides() as set_option, _environ(FAKE_AWS_ENV if moto else {}):
            if moto is not None:
                for key, value in _s3_options(moto.url).items():
                    set_option("s3_endpoint", key, value)
            server = start_server(
                state_file, settings=settings, port=None, ui_port=ui_port, s3=moto is not None
            )
        ours = True
    session.add(
        Service(
            CONNECT,
            server.url,
            server.pid,
            start_time(server.pid) or 0.0,
            ours=ours,
            log=server.log,
            web_url=server.ui_url or "",
        )
    )
    return server.url


def stop_services(state: DevState, say: Say, processes: Mapping[int, ServiceProcess]) -> None:
    """Stop the services of ``state`` that ``dev`` started, newest first; leave the others."""
    from luigi_ufo.spark.connect_cli import default_state_file
    from luigi_ufo.spark.connect_server import stop_server
    from luigi_ufo.ufo.embedded import per_user_server

    alive = [s for s in state.services if s.ours and s.alive()]
    for service in alive:  # all JVMs at once: their shutdowns overlap instead of queueing
        if service.name not in (POSTGRES, CONNECT):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service.pid, signal.SIGTERM)
    for service in reversed(alive):
        if service.name == CONNECT:
            say(stop_server(default_state_file()))
        elif service.name == POSTGRES:
            say(f"PostgreSQL {per_user_server(say).stop()}")
        elif service.pid in processes:
            processes[service.pid].stop()
        else:
            stop_group(service.pid)
    for service in state.services:
        if not service.ours and service.alive():
            say(f"{service.name} (pid {service.pid}) was running before dev: left running")


def s3_env() -> dict[str, str]:
    """The environment of the moto lake's clients: its fake keys and region."""
    return dict(FAKE_AWS_ENV)


def _s3_options(endpoint: str) -> dict[str, str]:
    return {"endpoint_url": endpoint, "path_style": "true", "region": FAKE_AWS_ENV["AWS_REGION"]}


def _wait_http(session: Session, service: Service, url: str) -> None:
    process = session.processes[service.pid]
    wait_until(
        lambda: http_get(url, timeout=5.0) is not None,
        what=f"{service.name} at {service.url}",
        timeout=READY_TIMEOUT,
        alive=process.running,
        log_tail=process.log_tail,
    )


def _json(url: str) -> dict[str, object]:
    import json

    doc: dict[str, object] = json.loads(http_get(url))
    return doc


def _create_bucket(endpoint: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=FAKE_AWS_ENV["AWS_REGION"],
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        client.create_bucket(Bucket=BUCKET)
    except Exception as exc:
        raise ServiceError(f"cannot create bucket {BUCKET!r} on moto at {endpoint}: {exc}") from exc


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
