"""The S3 service behind the ``s3_endpoint`` fixture: moto in a thread or in a container."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from luigi_ufo.services.moto import ThreadedMoto
from luigi_ufo.services.readiness import http_get, wait_until
from luigi_ufo.testing import _docker
from luigi_ufo.testing.backend import ENV_VARS, Backend, select_backend

__all__ = ["DOCKER_IMAGE", "S3Service", "start_s3"]

DOCKER_IMAGE = "motoserver/moto:5.1.0"
READY_TIMEOUT = 60.0


@dataclass
class S3Service:
    """An S3-compatible endpoint at :attr:`endpoint` (``http://host:port``)."""

    endpoint: str
    backend: Backend
    name: str = "s3"
    _native: ThreadedMoto | None = field(default=None, repr=False)
    _container: Any = field(default=None, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        """Return the last request log lines."""
        if self._native is not None:
            return self._native.log_tail(lines)
        if self._container is not None:
            return _docker.log_tail(self._container, lines)
        return f"(endpoint from ${ENV_VARS['s3']}: no log available)"

    def stop(self) -> None:
        """Stop moto's thread or container."""
        if self._native is not None:
            self._native.stop()
            self._native = None
        if self._container is not None:
            _docker.remove(self._container)
            self._container = None


def _start_docker() -> S3Service:
    from testcontainers.core.container import DockerContainer

    container = DockerContainer(_docker.image_for("s3", DOCKER_IMAGE))
    _docker.publish_on_loopback(container, 5000)
    _docker.started(container)
    service = S3Service(endpoint="", backend=Backend.DOCKER, _container=container)
    try:
        service.endpoint = f"http://{_docker.LOOPBACK}:{_docker.loopback_port(container, 5000)}"
        wait_until(
            lambda: bool(http_get(f"{service.endpoint}/moto-api/")),
            what=f"moto server in container {container.get_wrapped_container().short_id}",
            timeout=READY_TIMEOUT,
            alive=lambda: _docker.running(container),
            log_tail=service.log_tail,
        )
    except BaseException:
        service.stop()
        raise
    return service


def start_s3() -> S3Service:
    """Start (or find) an S3 endpoint by the backend order of :mod:`.backend`."""
    backend = select_backend("s3")
    if backend is Backend.ENV:
        return S3Service(endpoint=os.environ[ENV_VARS["s3"]].rstrip("/"), backend=backend)
    if backend is Backend.DOCKER:
        return _start_docker()
    moto = ThreadedMoto()
    return S3Service(endpoint=moto.endpoint, backend=backend, _native=moto)
