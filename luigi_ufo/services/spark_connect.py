"""A local Spark Connect server process: start it from its command, find it again, stop it.

The command, ``spark-submit --class SparkConnectServer`` with the settings a task's spark-submit
gets, is built by :mod:`luigi_ufo.spark.connect.server`; here it runs in a process group of its
own, is waited for until it accepts sessions, and is recorded in a small state file (its process,
URL, web UI, log and token file), so another process can show or stop it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luigi_ufo.errors import ConfigError, ServiceError
from luigi_ufo.paths import data_dir
from luigi_ufo.services.logs import tail
from luigi_ufo.services.process import ChildProcess, ProcessRef, stop_tree

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
HOST = "127.0.0.1"
DEFAULT_PORT = 15002
READY_TIMEOUT = 180.0
STOP_GRACE = 15.0
#: An operation whose client vanished (Luigi worker killed) is interrupted on the server once it
#: has had no attached RPC for DETACHED_TIMEOUT (Spark: 5 min), checked every MAINTENANCE. The
#: server notices a dead client only when its response stream ends, which it does every
#: STREAM_DURATION (Spark: 2 min; a live client reattaches at once): so within ~50 s, not 7.
DETACHED_TIMEOUT = "30s"
MAINTENANCE = "5s"
STREAM_DURATION = "15s"
_STARTED = "Spark Connect server started"
#: Servers this process started, by PID: kept so they are reaped here when stopped here.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ConnectServer:
    """A running (or recorded) Connect server: where to connect, where to look, what to stop."""

    pid: int
    url: str
    port: int
    master: str
    ui_url: str | None
    log: str
    #: When its process started (epoch seconds): with the pid, tells it from a later process.
    started_at: float
    version: str = ""
    token_file: str = ""

    def running(self) -> bool:
        """Whether the recorded process still runs (not a later one with the same pid)."""
        return ProcessRef(self.pid, self.started_at).alive()

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the server's log."""
        return tail(Path(self.log), lines)

    def stop(self, grace: float = STOP_GRACE) -> str:
        """Stop the server's process tree (JVM and its Python workers); SIGKILL after grace."""
        child = _CHILDREN.pop(self.pid, None)
        root: ProcessRef | ChildProcess = child or ProcessRef(self.pid, self.started_at)
        stopped = stop_tree(root, grace)
        if stopped.killed:
            return f"process group {self.pid} killed with SIGKILL after {grace:g} s"
        return f"process group {self.pid} ended on {stopped.signal}"

    def as_json(self) -> dict[str, Any]:
        """The state file's document."""
        return dataclasses.asdict(self)


def default_state_file() -> Path:
    """The state file of the user's local server: ``<data dir>/connect/server.json``."""
    return data_dir() / "connect" / "server.json"


def connect_jar(home: Path) -> Path:
    """Return pyspark's own ``jars/spark-connect_*.jar`` (raise ConfigError when missing)."""
    found = sorted(home.glob("jars/spark-connect_*.jar"))
    if not found:
        raise ConfigError(
            f"no jars/spark-connect_*.jar in {str(home)!r}: this pyspark carries no Connect "
            "server; pip install 'luigi-ufo[connect]' 'pyspark>=4,<5'"
        )
    return found[0]


def server_conf(*, host: str, port: int, ui_port: int | None) -> dict[str, str]:
    """The server's own Spark properties: binding, web UI, and abandoned-operation cleanup."""
    conf = {
        "spark.connect.grpc.binding.address": host,
        "spark.connect.grpc.binding.port": str(port),
        "spark.connect.execute.manager.detachedTimeout": DETACHED_TIMEOUT,
        "spark.connect.execute.manager.maintenanceInterval": MAINTENANCE,
        "spark.connect.execute.reattachable.senderMaxStreamDuration": STREAM_DURATION,
        # Progress reaches clients through the protocol; bars would only fill the log.
        "spark.ui.showConsoleProgress": "false",
    }
    if ui_port is None:
        conf["spark.ui.enabled"] = "false"
    else:
        conf["spark.ui.port"] = str(ui_port)
        # A taken UI port must fail the start, not move the UI somewhere unrecorded.
        conf["spark.port.maxRetries"] = "0"
    return conf


def client_url(host: str, port: int, *, token: bool) -> str:
    """The URL clients use; with a token and no TLS, pyspark requires the name ``localhost``."""
    if token and host in ("127.0.0.1", "localhost", "::1"):
        return f"sc://localhost:{port}"
    return f"sc://{host}:{port}"


def refuse_running(state_file: Path) -> None:
    """Raise ServiceError if the server recorded in ``state_file`` runs."""
    current = read_state(state_file)
    if current is not None and current.running():
        raise ServiceError(
            f"a Spark Connect server is already running at {current.url} (pid {current.pid}); "
            "stop it first with `luigi-ufo connect stop`"
        )


def launch(
    state_file: Path,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    shown: str,
    master: str,
    host: str,
    port: int,
    ui_port: int | None,
    token: bool,
    token_file: str = "",
    cwd: Path | None = None,
    timeout: float = READY_TIMEOUT,
) -> ConnectServer:
    """Run the server command ``argv``, wait until it accepts sessions, record it; return it.

    ``shown``: the command as the log shows it (secrets masked); ``env``: its whole
    environment; ``token``: whether clients need a token (one is in ``env``); ``token_file``:
    the file the caller wrote it to for this user's clients, removed when the server stops.
    Refuses a second server for one state file.
    """
    refuse_running(state_file)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    log = state_file.with_suffix(".log")
    with log.open("ab") as out:
        out.write(f"luigi-ufo: {shown}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    ref = ProcessRef.of(proc.pid)
    server = ConnectServer(
        pid=proc.pid,
        url=client_url(host, port, token=token),
        port=port,
        master=master,
        ui_url=None if ui_port is None else f"http://{host}:{ui_port}",
        log=str(log),
        started_at=ref.started if ref is not None else time.time(),
        version=_pyspark_version(),
        token_file=token_file,
    )
    _CHILDREN[proc.pid] = proc
    try:
        _wait_ready(server, proc, host, timeout)
    except BaseException:
        server.stop(grace=5)
        _forget_token(server)
        raise
    write_state(state_file, server)
    return server


def _wait_ready(server: ConnectServer, proc: subprocess.Popen[bytes], host: str, t: float) -> None:
    deadline = time.monotonic() + t
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(
                f"the Spark Connect server exited with code {proc.returncode} before it was "
                f"ready; log tail:\n{server.log_tail()}\nfix the cause shown in the log above"
            )
        if _STARTED in server.log_tail(200) and _accepts(host, server.port):
            return
        time.sleep(0.2)
    raise ServiceError(
        f"the Spark Connect server was not ready after {t:g} s; log tail:\n{server.log_tail()}\n"
        "check the log above or raise the timeout on a slow machine"
    )


def _accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def write_state(state_file: Path, server: ConnectServer) -> None:
    """Record ``server`` in ``state_file`` (written whole, then renamed into place)."""
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(server.as_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(state_file)


def read_state(state_file: Path) -> ConnectServer | None:
    """Return the server recorded in ``state_file``, or None if there is none."""
    try:
        doc = json.loads(state_file.read_text(encoding="utf-8"))
        return ConnectServer(**doc)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise ServiceError(
            f"cannot read the Connect server state {str(state_file)!r} ({exc}); delete it if "
            "no server is running"
        ) from None


def stop_server(state_file: Path) -> str:
    """Stop the server recorded in ``state_file`` and forget it; say what was done."""
    server = read_state(state_file)
    if server is None:
        return f"no Spark Connect server recorded in {state_file}"
    if not server.running():
        child = _CHILDREN.pop(server.pid, None)
        if child is not None:  # started here and died on its own: not left a zombie
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        _forget_token(server)
        state_file.unlink(missing_ok=True)
        return f"the Spark Connect server (pid {server.pid}) had already stopped"
    how = server.stop()
    _forget_token(server)
    state_file.unlink(missing_ok=True)
    return f"stopped the Spark Connect server at {server.url}: {how}"


def _forget_token(server: ConnectServer) -> None:
    if server.token_file:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(server.token_file)


def _pyspark_version() -> str:
    import pyspark

    return str(pyspark.__version__)
