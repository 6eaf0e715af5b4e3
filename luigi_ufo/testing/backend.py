"""Pick where a fixture's service comes from (a user's env var, Docker, native) and what it offers.

The choice is a pure function of values (:func:`choose_backend`); only :func:`docker_reachable`
does I/O, a ~2 s ping of the Docker engine's ``/_ping`` endpoint.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Protocol

from luigi_ufo.errors import ConfigError

__all__ = [
    "BACKEND_ENV",
    "ENV_VARS",
    "IMAGE_ENV_VARS",
    "Backend",
    "Service",
    "choose_backend",
    "docker_address",
    "docker_reachable",
    "ping_ok",
    "select_backend",
]

#: Per-service env vars naming a service the user already runs; they always win.
ENV_VARS: Mapping[str, str] = {
    "postgres": "LUIGI_UFO_TEST_POSTGRES_DSN",
    "s3": "LUIGI_UFO_TEST_S3_ENDPOINT",
    "spark": "LUIGI_UFO_TEST_SPARK_MASTER",
    "luigid": "LUIGI_UFO_TEST_LUIGID_URL",
}
#: Per-service env vars naming the image the Docker backend runs (a private registry's or a
#: locally built one); unset, the public image a machine with a registry pulls.
IMAGE_ENV_VARS: Mapping[str, str] = {
    "postgres": "LUIGI_UFO_TEST_POSTGRES_IMAGE",
    "s3": "LUIGI_UFO_TEST_S3_IMAGE",
    "spark": "LUIGI_UFO_TEST_SPARK_IMAGE",
}
#: ``native`` or ``docker`` forces that backend for every service without its own env var.
BACKEND_ENV = "LUIGI_UFO_TEST_BACKEND"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


class Backend(str, Enum):
    """Where a fixture's service runs."""

    ENV = "env"
    DOCKER = "docker"
    NATIVE = "native"


class Service(Protocol):
    """A running service started (or merely found) by a fixture."""

    name: str
    backend: Backend

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the service's log."""
        ...

    def stop(self) -> None:
        """Stop what this object started; a no-op for a service the user runs."""
        ...


def choose_backend(
    *,
    env_value: str | None,
    forced: str | None,
    docker_ok: bool,
    testcontainers_installed: bool,
    docker_supported: bool = True,
) -> Backend:
    """Return the backend: env var, else forced choice, else Docker if usable, else native.

    A forced ``docker`` leaves a service that has no Docker backend (``docker_supported=False``)
    on native processes.
    """
    if env_value:
        return Backend.ENV
    if forced:
        try:
            backend = Backend(forced.strip().lower())
        except ValueError:
            backend = Backend.ENV  # never valid as a forced value: reported just below
        if backend is Backend.ENV:
            raise ConfigError(
                f"{BACKEND_ENV}={forced!r} is not one of ['native', 'docker']; fix or unset it"
            )
        # A service without a Docker backend (luigid: plain Python) runs natively beside them.
        return backend if docker_supported else Backend.NATIVE
    if docker_supported and docker_ok and testcontainers_installed:
        return Backend.DOCKER
    return Backend.NATIVE


def docker_address(docker_host: str | None) -> tuple[str, str] | tuple[str, tuple[str, int]]:
    """Parse ``DOCKER_HOST`` into ``("unix", path)`` or ``("tcp", (host, port))``."""
    value = docker_host or DEFAULT_DOCKER_HOST
    if value.startswith("unix://"):
        return ("unix", value[len("unix://") :])
    if value.startswith(("tcp://", "http://")):
        hostport = value.split("://", 1)[1].split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"DOCKER_HOST={value!r} lacks host:port; use tcp://HOST:PORT")
        return ("tcp", (host.strip("[]"), int(port)))
    raise ConfigError(f"DOCKER_HOST={value!r} has an unsupported scheme; use unix:// or tcp://")


def ping_ok(response: bytes) -> bool:
    """Return whether a raw HTTP response is the Docker engine's ``200 OK`` ping answer."""
    head, _, body = response.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    return len(status) >= 2 and status[1] == b"200" and body.strip().endswith(b"OK")


def docker_reachable(docker_host: str | None = None, timeout: float = 2.0) -> bool:
    """Ping the Docker engine at ``docker_host`` (default: ``$DOCKER_HOST`` or the unix socket)."""
    try:
        kind, address = docker_address(
            docker_host if docker_host is not None else os.environ.get("DOCKER_HOST")
        )
    except ConfigError:
        return False
    family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return False
    return ping_ok(b"".join(chunks))


@cache
def _docker_ok_cached() -> bool:
    # One ping per session: every fixture asks, the answer does not change mid-run.
    return docker_reachable()


def select_backend(service: str, *, docker_supported: bool = True) -> Backend:
    """Choose the backend of ``service`` (a key of :data:`ENV_VARS`) from this environment."""
    env_value = os.environ.get(ENV_VARS[service])
    forced = os.environ.get(BACKEND_ENV)
    # Short-circuit: no ping when an env var already decides.
    docker_ok = not (env_value or forced) and docker_supported and _docker_ok_cached()
    return choose_backend(
        env_value=env_value,
        forced=forced,
        docker_ok=docker_ok,
        testcontainers_installed=importlib.util.find_spec("testcontainers") is not None,
        docker_supported=docker_supported,
    )
