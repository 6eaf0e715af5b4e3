"""A Spark standalone cluster run from the local Spark installation.

A Master and Workers start from ``bin/spark-class`` of pyspark's package directory, each a
:class:`ServiceProcess` in its own process group (so executors and Python workers stop with it),
on loopback. It is ready when the master's ``/json/`` lists every worker ALIVE. Executors run
``sys.executable``, so Python code on executors imports what the caller imports.
``luigi-ufo dev`` and the ``spark_master`` test fixture both run it.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from luigi_ufo.services.readiness import http_get, wait_until
from luigi_ufo.services.service_process import ServiceProcess
from luigi_ufo.services.spark_home import spark_home

__all__ = [
    "StandaloneCluster",
    "alive_workers",
    "daemon_env",
    "master_argv",
    "worker_argv",
    "write_auth_properties",
]

HOST = "127.0.0.1"
#: Small enough for a 2-core CI machine; one executor of spark-submit's default 1g fits.
WORKER_CORES = 2
WORKER_MEMORY = "2g"
DAEMON_MEMORY = "512m"
READY_TIMEOUT = 120.0


def master_argv(home: Path, *, host: str, port: int, webui_port: int) -> list[str]:
    """Return the argv of a standalone Master."""
    return [
        str(home / "bin" / "spark-class"),
        "org.apache.spark.deploy.master.Master",
        "--host",
        host,
        "--port",
        str(port),
        "--webui-port",
        str(webui_port),
    ]


def worker_argv(
    home: Path,
    *,
    master_url: str,
    host: str,
    port: int,
    webui_port: int,
    work_dir: Path,
    cores: int = WORKER_CORES,
    memory: str = WORKER_MEMORY,
) -> list[str]:
    """Return the argv of a standalone Worker registering with ``master_url``."""
    return [
        str(home / "bin" / "spark-class"),
        "org.apache.spark.deploy.worker.Worker",
        "--host",
        host,
        "--port",
        str(port),
        "--webui-port",
        str(webui_port),
        "--cores",
        str(cores),
        "--memory",
        memory,
        "--work-dir",
        str(work_dir),
        master_url,
    ]


def alive_workers(master_json: Mapping[str, Any]) -> int:
    """Return how many workers the master's ``/json/`` document reports ALIVE."""
    return sum(1 for w in master_json.get("workers", []) if w.get("state") == "ALIVE")


def daemon_env(home: Path, base: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Return the environment of the Spark daemons (and so of their executors)."""
    return {
        **environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOG_DIR": str(base / "logs"),
        "SPARK_LOCAL_DIRS": str(base / "local"),
        "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
        # Executors must run the caller's interpreter, or their imports fail.
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def write_auth_properties(path: Path) -> Path:
    """Write a fresh ``spark.authenticate`` secret to the 0600 properties file ``path``.

    Master, workers and every client (spark-submit, the Connect server) read it with
    ``--properties-file``: the secret is in no argv, and only this user can read the file, so
    only this user can register applications (and so run code) on the cluster.
    """
    # token_urlsafe's characters need no escaping in a Java properties file.
    text = f"spark.authenticate=true\nspark.authenticate.secret={secrets.token_urlsafe(32)}\n"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


class StandaloneCluster:
    """A Master and ``workers`` Workers started in ``base`` on the given loopback ports.

    ``ports``: the master's RPC and web UI ports, then each worker's (``2 + 2 * workers``,
    chosen together so they differ). ``properties_file`` (e.g. :func:`write_auth_properties`)
    reaches every daemon by ``--properties-file``. ``on_start(name, process, master URL, web
    UI URL)`` is called as each daemon starts (to record it at once). The daemons start at
    once; :meth:`wait_ready` waits for them. Logs: ``base/spark-master.log``,
    ``base/spark-worker-N.log``.
    """

    def __init__(
        self,
        base: Path,
        ports: Sequence[int],
        *,
        workers: int = 1,
        properties_file: Path | None = None,
        on_start: Callable[[str, ServiceProcess, str, str], object] | None = None,
    ) -> None:
        home = spark_home()
        self._on_start = on_start
        for sub in ("logs", "local", "work"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        env = daemon_env(home, base, os.environ)
        extra = ["--properties-file", str(properties_file)] if properties_file else []
        port, webui, *worker_ports = ports
        self.master_url = f"spark://{HOST}:{port}"
        self.web_url = f"http://{HOST}:{webui}"
        #: Each daemon by name, master first, with its web UI.
        self.daemons: dict[str, tuple[ServiceProcess, str]] = {}
        try:
            self._spawn(
                "spark-master",
                master_argv(home, host=HOST, port=port, webui_port=webui),
                extra,
                base,
                env,
                self.web_url,
            )
            for n in range(1, workers + 1):
                wport, wweb = worker_ports[2 * n - 2 : 2 * n]
                argv = worker_argv(
                    home,
                    master_url=self.master_url,
                    host=HOST,
                    port=wport,
                    webui_port=wweb,
                    work_dir=base / "work",
                )
                self._spawn(f"spark-worker-{n}", argv, extra, base, env, f"http://{HOST}:{wweb}")
        except BaseException:
            self.stop()
            raise

    def _spawn(
        self,
        name: str,
        argv: list[str],
        extra: list[str],
        base: Path,
        env: Mapping[str, str],
        web_url: str,
    ) -> None:
        process = ServiceProcess([*argv, *extra], log=base / f"{name}.log", env=env, cwd=base)
        self.daemons[name] = (process, web_url)
        if self._on_start is not None:
            self._on_start(name, process, self.master_url, web_url)

    @property
    def processes(self) -> list[ServiceProcess]:
        """The daemons' processes, master first."""
        return [process for process, _ in self.daemons.values()]

    def status(self) -> dict[str, Any]:
        """Return the master's ``/json/`` document."""
        data: dict[str, Any] = json.loads(http_get(f"{self.web_url}/json/"))
        return data

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Wait until every worker is ALIVE at the master; return the seconds waited."""
        workers = len(self.daemons) - 1
        return wait_until(
            lambda: alive_workers(self.status()) >= workers,
            what=f"Spark standalone master {self.master_url} with {workers} worker(s)",
            timeout=timeout,
            alive=lambda: all(p.running() for p in self.processes),
            log_tail=self.log_tail,
        )

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of every daemon's log."""
        return "\n".join(f"--- {p.log.name} ---\n{p.log_tail(lines)}" for p in self.processes)

    def stop(self) -> None:
        """Stop the workers (with their executors) and the master."""
        # Signal all first: their JVM shutdowns then overlap instead of queueing.
        for process in self.processes:
            process.terminate()
        for process in reversed(self.processes):
            process.stop()
        self.daemons.clear()
