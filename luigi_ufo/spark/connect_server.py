"""A local Spark Connect server: start it against a master, find it again, stop it by PID.

The server is ``spark-submit --class SparkConnectServer`` of the installed pyspark (>= 4.0, whose
wheel carries ``jars/spark-connect_2.13-<version>.jar``), in its own process group, with the same
settings a task's spark-submit gets: ``[spark_script]`` (jars, conf, memory) and, with ``s3=True``,
the s3a settings and credentials derived from ``[s3_endpoint]`` exactly as for a submitted task
(credentials through the environment or a private properties file, never argv). Its PID, URL,
web UI and log are kept in a small state file, so another process can show or stop it.

Only its owner can use it: it requires a token (``SPARK_CONNECT_AUTHENTICATE_TOKEN`` if set, else
one generated at start), given to the JVM by environment and kept in a 0600 file of the private
runtime directory, where this user's clients find it (:mod:`.connect_settings`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luigi_ufo import _pgroup
from luigi_ufo._logtail import tail
from luigi_ufo.errors import ConfigError, ServiceError
from luigi_ufo.net import free_port
from luigi_ufo.spark.command import build_argv, cluster_manager, format_argv, mask_argv
from luigi_ufo.spark.connect import require_connect_client
from luigi_ufo.spark.connect_settings import TOKEN_ENV, new_token_file, token_file
from luigi_ufo.spark.properties import private_properties_file
from luigi_ufo.spark.scripts import Script
from luigi_ufo.spark.settings import SparkSettings

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
    started_at: float
    version: str = ""
    token_file: str = ""

    def running(self) -> bool:
        """Whether the recorded PID is alive and is still this server's JVM (not a reused PID)."""
        return _is_server(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the server's log."""
        return tail(Path(self.log), lines)

    def stop(self, grace: float = STOP_GRACE) -> str:
        """SIGTERM the server's process group (JVM and its Python workers); SIGKILL after grace."""
        return stop_group(self.pid, grace)

    def as_json(self) -> dict[str, Any]:
        """The state file's document."""
        return dataclasses.asdict(self)


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


def start_server(
    state_file: Path,
    *,
    settings: SparkSettings | None = None,
    host: str = HOST,
    port: int | None = DEFAULT_PORT,
    ui_port: int | None = None,
    s3: bool = False,
    timeout: float = READY_TIMEOUT,
    token: bool = True,
    cwd: Path | None = None,
) -> ConnectServer:
    """Start a Connect server, wait until it accepts sessions and record it in ``state_file``.

    ``settings`` default to ``[spark_script]`` (master, jars, conf, memory); ``port=None`` picks a
    free one; ``cwd``: the server's working directory (default: this process's). Refuses to start
    a second server for the same state file. ``token=False`` (a throwaway test server) generates
    no token: without ``SPARK_CONNECT_AUTHENTICATE_TOKEN`` in the environment, any local process
    can connect.
    """
    from luigi_ufo.spark.settings import default_spark_submit
    from luigi_ufo.spark.task import build_spec

    require_connect_client()
    current = read_state(state_file)
    if current is not None and current.running():
        raise ServiceError(
            f"a Spark Connect server is already running at {current.url} (pid {current.pid}); "
            "stop it first with `luigi-ufo connect stop`"
        )
    settings = settings or SparkSettings.from_config()
    spark_submit = settings.spark_submit or default_spark_submit()
    home = Path(spark_submit).resolve().parent.parent
    port = port or free_port(host)
    conf = {**settings.conf, **server_conf(host=host, port=port, ui_port=ui_port)}
    env = dict(settings.env)
    if cluster_manager(settings.master) == "local":
        # Driver, block manager and web UI on the server's address too (loopback by default).
        env.setdefault("SPARK_LOCAL_IP", host)
    spec = build_spec(
        settings=dataclasses.replace(settings, conf=conf, env=env),
        script=Script(path=connect_jar(home), sha256=""),
        name="Spark Connect server (luigi-ufo)",
        app_args=(),
        uses_s3=s3,
    )
    spec = dataclasses.replace(spec, main_class=SERVER_CLASS)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    log = state_file.with_suffix(".log")
    child_env = {**os.environ, **spec.env}
    secret_file = ""
    if token and not child_env.get(TOKEN_ENV):
        # By environment, never argv; clients of this user read the 0600 file.
        child_env[TOKEN_ENV], path = new_token_file(port)
        secret_file = str(path)
        spec = dataclasses.replace(spec, secrets=(*spec.secrets, child_env[TOKEN_ENV]))
    with private_properties_file(spec, child_env) as ready_spec:
        argv = build_argv(ready_spec)
        with log.open("ab") as out:
            out.write(f"luigi-ufo: {format_argv(mask_argv(argv, spec.secrets))}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env,
                cwd=cwd,
                start_new_session=True,
            )
        server = ConnectServer(
            pid=proc.pid,
            url=client_url(host, port, token=bool(child_env.get(TOKEN_ENV))),
            port=port,
            master=settings.master,
            ui_url=None if ui_port is None else f"http://{host}:{ui_port}",
            log=str(log),
            started_at=time.time(),
            version=_pyspark_version(),
            token_file=secret_file,
        )
        try:
            # The private properties file exists until the JVM has read it and is serving.
            _wait_ready(server, proc, host, timeout)
        except BaseException:
            server.stop(grace=5)
            proc.wait()
            _forget_token(server)
            raise
    _CHILDREN[proc.pid] = proc
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
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ServiceError(
            f"cannot read the Connect server state {str(state_file)!r} ({exc}); delete it if "
            "no server is running"
        ) from None
    return ConnectServer(**doc)


def stop_server(state_file: Path) -> str:
    """Stop the server recorded in ``state_file`` and forget it; say what was done."""
    server = read_state(state_file)
    if server is None:
        return f"no Spark Connect server recorded in {state_file}"
    if not server.running():
        _reap(server.pid)  # started here and died on its own: not left a zombie
        _forget_token(server)
        state_file.unlink(missing_ok=True)
        return f"the Spark Connect server (pid {server.pid}) had already stopped"
    how = server.stop()
    _forget_token(server)
    state_file.unlink(missing_ok=True)
    return f"stopped the Spark Connect server at {server.url}: {how}"


def _forget_token(server: ConnectServer) -> None:
    # Only the file this server wrote: a later server on the port has its own.
    if server.token_file and server.token_file == str(token_file(server.port)):
        Path(server.token_file).unlink(missing_ok=True)


def stop_group(pid: int, grace: float) -> str:
    """SIGTERM process group ``pid``, SIGKILL it if members remain after ``grace`` seconds."""
    ended = _pgroup.stop_group(pid, grace)
    _reap(pid)
    if ended:
        return f"process group {pid} ended on SIGTERM"
    return f"process group {pid} killed with SIGKILL after {grace:g} s"


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def _is_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return SERVER_CLASS.encode() in cmdline and state != "Z"


def _pyspark_version() -> str:
    import pyspark

    return str(pyspark.__version__)


@contextlib.contextmanager
def running_server(state_file: Path, **kwargs: Any) -> Iterator[ConnectServer]:
    """Start a server for the block and stop it afterwards (also after errors)."""
    server = start_server(state_file, **kwargs)
    try:
        yield server
    finally:
        stop_server(state_file)
