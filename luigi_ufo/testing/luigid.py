"""The central scheduler behind the ``luigid`` fixture, on a free loopback port."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_ufo.errors import ServiceError
from luigi_ufo.services.luigid import HOST, Luigid, task_list
from luigi_ufo.services.ports import free_port
from luigi_ufo.testing.backend import ENV_VARS, Backend, select_backend

__all__ = ["LuigidService", "start_luigid"]


@dataclass
class LuigidService:
    """A luigid at :attr:`url`; run workers with ``--scheduler-url URL`` or host/port."""

    url: str
    host: str
    port: int
    backend: Backend
    name: str = "luigid"
    startup_seconds: float = 0.0
    _native: Luigid | None = field(default=None, repr=False)

    def task_list(self, status: str | None = None) -> dict[str, Any]:
        """Return luigid's tasks (by task id), optionally only those with ``status``."""
        return task_list(self.url, status)

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of luigid's output and server log."""
        if self._native is None:
            return f"(scheduler from ${ENV_VARS['luigid']}: no log available)"
        return self._native.log_tail(lines)

    def stop(self) -> None:
        """Stop luigid and remove its log and state directory."""
        if self._native is not None:
            self._native.stop()
            shutil.rmtree(self._native.base, ignore_errors=True)
            self._native = None


def _start_native() -> LuigidService:
    base = Path(tempfile.mkdtemp(prefix="luigi-ufo-luigid-"))
    port = free_port(HOST)
    service = LuigidService(
        url=f"http://{HOST}:{port}", host=HOST, port=port, backend=Backend.NATIVE
    )
    try:
        service._native = Luigid(base, port)
        service.startup_seconds = service._native.wait_ready()
    except BaseException:
        service.stop()
        shutil.rmtree(base, ignore_errors=True)
        raise
    return service


def _from_url(url: str) -> LuigidService:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ServiceError(
            f"{ENV_VARS['luigid']}={url!r} is not an http(s)://host:port URL; fix or unset it"
        )
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return LuigidService(url=url.rstrip("/"), host=parsed.hostname, port=port, backend=Backend.ENV)


def start_luigid() -> LuigidService:
    """Start (or find) a central scheduler; luigid has no Docker backend (it is pure Python)."""
    backend = select_backend("luigid", docker_supported=False)
    if backend is Backend.ENV:
        return _from_url(os.environ[ENV_VARS["luigid"]])
    return _start_native()
