"""Start and stop the services of ``luigi-ufo dev``: the laptop cluster on loopback.

luigid, the Spark master and workers and moto are :class:`ServiceProcess` children (each its own
process group, so a Ctrl-C in the terminal reaches only ``dev``, which stops them). PostgreSQL is
the per-user server of ``luigi-ufo db``, the Connect server the one of ``luigi-ufo connect`` (the
command starts it, as it builds its spark-submit): one already running is used and left as it
was.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

from luigi_ufo.services.luigid import VISUALISER, Luigid
from luigi_ufo.services.moto import FAKE_AWS_ENV, create_bucket, moto_argv
from luigi_ufo.services.ports import free_ports
from luigi_ufo.services.process import signal_group, stop_tree
from luigi_ufo.services.readiness import http_get, wait_until
from luigi_ufo.services.service_process import ServiceProcess
from luigi_ufo.services.shared_postgres import per_user_server
from luigi_ufo.services.spark_connect import ConnectServer, default_state_file, stop_server
from luigi_ufo.services.spark_standalone import StandaloneCluster, write_auth_properties
from luigi_ufo.services.stack_state import DevState, Service, write_state

HOST = "127.0.0.1"
BUCKET = "luigi-ufo-dev"
READY_TIMEOUT = 120.0
POSTGRES = "postgres"
CONNECT = "spark-connect"
#: The 0600 properties file (in ``<dev>/spark``) holding the cluster's ``spark.authenticate``
#: secret.
AUTH_PROPERTIES = "auth.properties"

Say = Callable[[str], None]


class Session:
    """The services this process started or found, recorded in ``state_path`` as they come."""

    def __init__(self, state_path: Path, state: DevState) -> None:
        self.state_path = state_path
        self.state = state
        self.processes: dict[int, ServiceProcess] = {}
        write_state(state_path, state)

    def add(self, service: Service) -> Service:
        """Record ``service``."""
        self.state = self.state.with_service(service)
        write_state(self.state_path, self.state)
        return service

    def add_process(
        self, name: str, process: ServiceProcess, *, url: str, web_url: str = ""
    ) -> Service:
        """Record ``process`` as service ``name`` (kept, to stop and reap it here)."""
        self.processes[process.pid] = process
        ref = process.ref
        return self.add(Service(name, url, ref.pid, ref.started, True, str(process.log), web_url))

    def add_connect(self, server: ConnectServer, *, ours: bool) -> str:
        """Record the Connect server (``ours``: started by this session); return its URL."""
        self.add(
            Service(
                CONNECT,
                server.url,
                server.pid,
                server.started_at,
                ours=ours,
                log=server.log,
                web_url=server.ui_url or "",
            )
        )
        return server.url

    def detach(self) -> None:
        """Record that the owner returns on purpose, leaving the services to ``dev stop``."""
        self.state = dataclasses.replace(self.state, detached=True)
        write_state(self.state_path, self.state)

    def stop(self, say: Say) -> None:
        """Stop everything this session started (see :func:`stop_services`)."""
        stop_services(self.state, say, self.processes)
        self.state_path.unlink(missing_ok=True)


def start(session: Session, base: Path, *, workers: int, s3: bool, say: Say) -> dict[str, str]:
    """Start the topology into ``session``; return the addresses for luigi.cfg."""
    for sub in ("spark", "luigid", "s3"):
        shutil.rmtree(base / sub, ignore_errors=True)
        (base / sub).mkdir(parents=True)
    ports = free_ports(4 + 2 * workers, HOST)
    # JVMs and luigid boot in parallel while PostgreSQL starts; then each is waited for.
    luigid = Luigid(base / "luigid", ports[0], state_path=base / "luigid-state.pickle")
    session.add_process("luigid", luigid.process, url=luigid.url, web_url=luigid.url + VISUALISER)
    auth = write_auth_properties(base / "spark" / AUTH_PROPERTIES)
    cluster = StandaloneCluster(
        base / "spark",
        ports[1 : 3 + 2 * workers],
        workers=workers,
        properties_file=auth,
        on_start=lambda name, process, url, web: session.add_process(
            name, process, url=url, web_url=web
        ),
    )
    moto: ServiceProcess | None = None
    if s3:
        moto = ServiceProcess(
            moto_argv(host=HOST, port=ports[-1]), log=base / "s3" / "s3.log", cwd=base / "s3"
        )
        session.add_process("s3", moto, url=f"http://{HOST}:{ports[-1]}")
    dsn = _postgres(session, say)
    luigid.wait_ready(READY_TIMEOUT)
    cluster.wait_ready(READY_TIMEOUT)
    found = {"luigid": luigid.url, "master": cluster.master_url, "dsn": dsn}
    found["spark_properties"] = str(auth)
    if moto is not None:
        endpoint = f"http://{HOST}:{ports[-1]}"
        wait_until(
            lambda: http_get(f"{endpoint}/moto-api/", timeout=5.0) is not None,
            what=f"s3 at {endpoint}",
            timeout=READY_TIMEOUT,
            alive=moto.running,
            log_tail=moto.log_tail,
        )
        create_bucket(endpoint, BUCKET)
        found["s3"] = endpoint
        found["lake"] = f"s3://{BUCKET}/lake"
    return found


def _postgres(session: Session, say: Say) -> str:
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
            status.started,
            ours=not kept_before,
            log=str(server.base_dir / "postgres.log"),
        )
    )
    return status.url


def stop_services(state: DevState, say: Say, processes: Mapping[int, ServiceProcess]) -> None:
    """Stop the services of ``state`` that ``dev`` started, newest first; leave the others."""
    alive = [s for s in state.services if s.ours and s.alive()]
    for service in alive:  # all JVMs at once: their shutdowns overlap instead of queueing
        if service.name not in (POSTGRES, CONNECT):
            signal_group(service.pid, signal.SIGTERM)
    for service in reversed(alive):
        if service.name == CONNECT:
            say(stop_server(default_state_file()))
        elif service.name == POSTGRES:
            say(f"PostgreSQL {per_user_server(say).stop()}")
        elif service.pid in processes:
            processes[service.pid].stop()
        else:
            stop_tree(service.ref)
    for service in state.services:
        if not service.ours and service.alive():
            say(f"{service.name} (pid {service.pid}) was running before dev: left running")


def s3_env() -> dict[str, str]:
    """The environment of the moto lake's clients: its fake keys and region."""
    return dict(FAKE_AWS_ENV)


def s3_options(endpoint: str) -> dict[str, str]:
    """The ``[s3_endpoint]`` options of the moto lake at ``endpoint``."""
    return {"endpoint_url": endpoint, "path_style": "true", "region": FAKE_AWS_ENV["AWS_REGION"]}
