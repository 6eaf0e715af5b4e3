"""The Spark standalone cluster behind the ``spark_master`` fixture.

Native backend: :class:`luigi_ufo.services.spark_standalone.StandaloneCluster` with one worker in
a temporary directory, on free loopback ports. Docker backend: a master and a worker in one
container on the host network (test-only). Either way, ready when the master's ``/json/`` lists an
ALIVE worker; executors run ``sys.executable``'s Python, so they import what the tests import.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_ufo.errors import ServiceError
from luigi_ufo.services.ports import free_ports
from luigi_ufo.services.readiness import http_get, wait_until
from luigi_ufo.services.spark_standalone import (
    DAEMON_MEMORY,
    HOST,
    READY_TIMEOUT,
    StandaloneCluster,
    alive_workers,
    master_argv,
    worker_argv,
)
from luigi_ufo.testing import _docker
from luigi_ufo.testing.backend import ENV_VARS, IMAGE_ENV_VARS, Backend, select_backend

__all__ = [
    "DOCKER_REPOSITORY",
    "SparkCluster",
    "docker_image",
    "docker_script",
    "hidden_environments",
    "image_mismatch",
    "release",
    "start_spark",
]

DOCKER_REPOSITORY = "apache/spark"


def docker_image(pyspark_version: str) -> str:
    """Return the ``apache/spark`` tag matching the client: the RPC protocol needs one version."""
    return f"{DOCKER_REPOSITORY}:{release(pyspark_version)}"


@dataclass
class SparkCluster:
    """A Spark standalone cluster: submit to :attr:`master_url`, watch :attr:`web_url`."""

    master_url: str
    web_url: str | None
    backend: Backend
    name: str = "spark"
    startup_seconds: float = 0.0
    _native: StandaloneCluster | None = field(default=None, repr=False)
    _base: Path | None = field(default=None, repr=False)
    _container: Any = field(default=None, repr=False)

    def status(self) -> dict[str, Any]:
        """Return the master's ``/json/`` document."""
        if self.web_url is None:
            raise ServiceError(
                f"no web UI URL known for master {self.master_url!r}; "
                "set LUIGI_UFO_TEST_SPARK_WEB_URL to query it"
            )
        data: dict[str, Any] = json.loads(http_get(f"{self.web_url}/json/"))
        return data

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the master's and the worker's logs."""
        if self._container is not None:
            return _docker.log_tail(self._container, lines)
        if self._native is None:
            return f"(cluster from ${ENV_VARS['spark']}: no log available)"
        return self._native.log_tail(lines)

    def stop(self) -> None:
        """Stop worker (with its executors) and master; remove temp files."""
        if self._native is not None:
            self._native.stop()
            self._native = None
        if self._container is not None:
            _docker.remove(self._container)
            self._container = None
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None


def _start_native() -> SparkCluster:
    base = Path(tempfile.mkdtemp(prefix="luigi-ufo-spark-"))
    cluster = SparkCluster(master_url="", web_url=None, backend=Backend.NATIVE, _base=base)
    try:
        # All four at once: the worker's ports must not be the master's, which it binds later.
        cluster._native = StandaloneCluster(base, free_ports(4, HOST))
        cluster.master_url, cluster.web_url = cluster._native.master_url, cluster._native.web_url
        cluster.startup_seconds = cluster._native.wait_ready(READY_TIMEOUT)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def release(version: str) -> str:
    """Return the ``X.Y.Z`` release of a pyspark or Spark version string."""
    value = ".".join(version.split(".")[:3]).split("+")[0]
    for suffix in ("rc", "dev", "a", "b"):
        value = value.split(suffix)[0]
    return value


def image_mismatch(
    image: str, *, client_python: str, client_spark: str, image_python: str, image_spark: str
) -> str | None:
    """Return why ``image`` cannot serve this client, or None when Python and Spark match."""
    if image_python == client_python and release(image_spark) == release(client_spark):
        return None
    return (
        f"Spark image {image!r} has Python {image_python} and Spark {image_spark}, this client "
        f"Python {client_python} and pyspark {client_spark}: executors need the driver's Python "
        f"minor version and Spark's RPC needs one release; set {IMAGE_ENV_VARS['spark']} to a "
        "matching image (.ci/build-images builds one) or use LUIGI_UFO_TEST_BACKEND=native"
    )


def docker_script(
    *, ports: Sequence[int], base: Path, pythons: list[str], uid: int, gid: int
) -> str:
    """Return the container's shell script: link the client's interpreters, run master + worker.

    The driver runs on the host and names its own interpreter path as the executors' Python;
    inside the container that path becomes a link to the image's ``python3`` (checked to be the
    same minor version). Daemons run as the host user, so files in the shared temp dir are theirs.
    """
    port, webui, worker_port, worker_webui = ports
    home = "/opt/spark"
    q = shlex.quote
    lines = ["set -e"]
    for python in pythons:
        lines.append(
            f'[ -e {q(python)} ] || {{ mkdir -p "$(dirname {q(python)})" && '
            f'ln -s "$(command -v python3)" {q(python)}; }} || '
            f"{{ echo {q(f'luigi-ufo: cannot put python3 at {python} in the container')} >&2; "
            "exit 97; }"
        )
    run = ""
    if uid != 0:
        lines.append(
            f"getent passwd {uid} >/dev/null || "
            f"echo 'luigi-ufo:x:{uid}:{gid}::/tmp:/bin/sh' >>/etc/passwd"
        )
        run = f"setpriv --reuid={uid} --regid={gid} --clear-groups "
    master = master_argv(Path(home), host=HOST, port=port, webui_port=webui)
    worker = worker_argv(
        Path(home),
        master_url=f"spark://{HOST}:{port}",
        host=HOST,
        port=worker_port,
        webui_port=worker_webui,
        work_dir=base / "work",
    )
    lines.append(f"{run}{shlex.join(master)} &")
    lines.append(f"exec {run}{shlex.join(worker)}")
    return "\n".join(lines)


def hidden_environments(pythons: Sequence[str], shared: Path, base: Path) -> list[Path]:
    """Return the roots of interpreters' environments inside ``shared``, to hide in the container.

    ``shared`` (the temp dir) is mounted at its own path. An interpreter inside it, such as the
    venv of a clone in the temp dir, would appear in the container as the host's link, dangling
    or naming a host-only Python, and linking the image's ``python3`` in its place would change
    the host's venv. A tmpfs over the environment's root (``.../venv`` of ``.../venv/bin/python``)
    hides it in the container only, where the script then links ``python3`` at that path.
    """
    roots: set[Path] = set()
    for python in pythons:
        root = Path(python).parent.parent.resolve()
        if not root.is_relative_to(shared):
            continue  # not mounted: the script makes the path in the container's own files
        if root == shared or base.is_relative_to(root):
            raise ServiceError(
                f"the interpreter {python!r} lies directly in the temp dir {str(shared)!r}, which "
                "the Spark container shares with the tests; use a venv in a folder of its own"
            )
        roots.add(root)
    return sorted(roots)


def _container_exit(container: Any) -> str | None:
    """Return how the container ended (exit code and log tail), or None while it runs."""
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    if wrapped.status == "running":
        return None
    code = wrapped.attrs.get("State", {}).get("ExitCode")
    return f"exit code {code}; its last lines:\n{_docker.log_tail(container, 20)}"


def _probe_image(container: Any, image: str) -> None:
    ended = _container_exit(container)
    if ended is not None:
        raise ServiceError(
            f"the Spark container of {image!r} stopped before its daemons started ({ended})"
        )
    code, out = container.exec(
        [
            "sh",
            "-c",
            "python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])' && "
            "ls /opt/spark/jars | sed -n 's/^spark-core_[0-9.]*-\\(.*\\)\\.jar$/\\1/p'",
        ]
    )
    found = out.decode("utf-8", "replace").split()
    ended = _container_exit(container)
    if ended is not None:  # it stopped while probed: the image is not what failed
        raise ServiceError(f"the Spark container of {image!r} stopped while probed ({ended})")
    if code != 0 or len(found) != 2:
        raise ServiceError(
            f"Spark image {image!r} lacks python3 or /opt/spark/jars/spark-core_*.jar "
            f"(probe exit {code}: {out[-500:]!r}); use an apache/spark-like image"
        )
    problem = image_mismatch(
        image,
        client_python="{}.{}".format(*sys.version_info[:2]),
        client_spark=importlib.metadata.version("pyspark"),
        image_python=found[0],
        image_spark=found[1],
    )
    if problem:
        raise ServiceError(problem)


def _start_docker() -> SparkCluster:
    from testcontainers.core.container import DockerContainer

    image = _docker.image_for("spark", docker_image(importlib.metadata.version("pyspark")))
    # Host networking: executors in the container reach the driver on the host, and the host
    # reaches the master on 127.0.0.1. The temp dir is mounted at its own path: tests' files
    # (inputs, outputs, a lake) are one filesystem for driver and executors, as on a cluster.
    shared = Path(tempfile.gettempdir()).resolve()
    base = Path(tempfile.mkdtemp(prefix="luigi-ufo-spark-docker-", dir=shared))
    for sub in ("logs", "local", "work"):
        (base / sub).mkdir()
    ports = free_ports(4, HOST)
    pythons = sorted({sys.executable, os.environ.get("PYSPARK_PYTHON") or sys.executable})
    hidden = hidden_environments(pythons, shared, base)
    script = docker_script(
        ports=ports, base=base, pythons=pythons, uid=os.getuid(), gid=os.getgid()
    )
    container = (
        DockerContainer(image)
        .with_command(["bash", "-c", script])
        .with_volume_mapping(str(shared), str(shared), mode="rw")
        .with_env("SPARK_LOCAL_IP", HOST)
        .with_env("SPARK_LOG_DIR", str(base / "logs"))
        .with_env("SPARK_LOCAL_DIRS", str(base / "local"))
        .with_env("SPARK_DAEMON_MEMORY", DAEMON_MEMORY)
        .with_kwargs(network_mode="host", entrypoint=[])
    )
    for root in hidden:
        container = container.with_tmpfs_mount(str(root))
    cluster = SparkCluster(
        master_url=f"spark://{HOST}:{ports[0]}",
        web_url=f"http://{HOST}:{ports[1]}",
        backend=Backend.DOCKER,
        _base=base,
    )
    try:
        _docker.started(container)
        cluster._container = container
        _probe_image(container, image)
        cluster.startup_seconds = wait_until(
            lambda: alive_workers(cluster.status()) >= 1,
            what=f"Spark cluster {cluster.master_url!r} in container of {image!r}",
            timeout=READY_TIMEOUT,
            alive=lambda: _docker.running(container),
            log_tail=cluster.log_tail,
            # Two JVMs starting in one container on a busy machine: wait while they keep logging.
            progress=lambda: len(container.get_wrapped_container().logs()),
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_spark() -> SparkCluster:
    """Start (or find) a Spark standalone cluster by the backend order of :mod:`.backend`."""
    backend = select_backend("spark")
    if backend is Backend.ENV:
        return SparkCluster(
            master_url=os.environ[ENV_VARS["spark"]],
            web_url=os.environ.get("LUIGI_UFO_TEST_SPARK_WEB_URL"),
            backend=backend,
        )
    if backend is Backend.DOCKER:
        return _start_docker()
    return _start_native()
