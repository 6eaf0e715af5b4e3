"""The PostgreSQL service behind the ``postgres_dsn`` fixture."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from luigi_ufo.services.postgres import PostgresServer
from luigi_ufo.testing import _docker
from luigi_ufo.testing.backend import ENV_VARS, Backend, select_backend

__all__ = ["DOCKER_IMAGE", "PostgresService", "start_postgres"]

DOCKER_IMAGE = "postgres:16-alpine"


@dataclass
class PostgresService:
    """A PostgreSQL server reachable at :attr:`dsn`."""

    dsn: str
    backend: Backend
    name: str = "postgres"
    _server: PostgresServer | None = field(default=None, repr=False)
    _container: Any = field(default=None, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        """Return the server log's last lines."""
        if self._server is not None:
            return self._server.log_tail(lines)
        if self._container is not None:
            return _docker.log_tail(self._container, lines)
        return f"(server from ${ENV_VARS['postgres']}: no log available)"

    def stop(self) -> None:
        """Stop the server or container this service started."""
        if self._server is not None:
            self._server.stop()
        if self._container is not None:
            _docker.remove(self._container)
            self._container = None


def _start_docker() -> PostgresService:
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(
        _docker.image_for("postgres", DOCKER_IMAGE),
        username="postgres",
        password="postgres",  # noqa: S106 - a throwaway container's
        dbname="postgres",
    )
    # Trust auth, like the native cluster: the DSN then carries no password at all.
    container.with_env("POSTGRES_HOST_AUTH_METHOD", "trust")
    _docker.publish_on_loopback(container, 5432)
    # Ready when psql inside the container connects over TCP (PostgresContainer's own wait).
    _docker.started(container)
    port = _docker.loopback_port(container, 5432)
    dsn = f"host={_docker.LOOPBACK} port={port} dbname=postgres user=postgres"
    return PostgresService(dsn=dsn, backend=Backend.DOCKER, _container=container)


def start_postgres() -> PostgresService:
    """Start (or find) a PostgreSQL server by the backend order of :mod:`.backend`."""
    backend = select_backend("postgres")
    if backend is Backend.ENV:
        return PostgresService(dsn=os.environ[ENV_VARS["postgres"]], backend=backend)
    if backend is Backend.DOCKER:
        return _start_docker()
    server = PostgresServer()
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return PostgresService(dsn=server.dsn, backend=backend, _server=server)
