"""The central scheduler behind the ``luigid`` fixture, on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_ufo.errors import ServiceError
from luigi_ufo.net import free_port
from luigi_ufo.testing._process import ServiceProcess
from luigi_ufo.testing._service import http_get, wait_until
from luigi_ufo.testing.backend import ENV_VARS, Backend, select_backend

__all__ = ["LuigidService", "luigid_argv", "start_luigid", "task_list_url"]

HOST = "127.0.0.1"
READY_TIMEOUT = 60.0


def luigid_argv(*, python: str, host: str, port: int, logdir: Path, state_path: Path) -> list[str]:
    """Return the argv running luigid in the foreground with the given interpreter."""
    return [
        python,
        "-c",
        "import luigi.cmdline; luigi.cmdline.luigid()",
        "--address",
        host,
        "--port",
        str(port),
        "--logdir",
        str(logdir),
        "--state-path",
        str(state_path),
    ]


def task_list_url(base_url: str, status: str | None = None) -> str:
    """Return the ``/api/task_list`` URL, filtered by ``status`` (e.g. ``"DONE"``) if given."""
    data: dict[str, Any] = {"status": status} if status else {}
    query = urllib.parse.urlencode({"data": json.dumps(data)})
    return f"{base_url.rstrip('/')}/api/task_list?{query}"


@dataclass
class LuigidService:
    """A luigid at :attr:`url`; run workers with ``--scheduler-url URL`` or host/port."""

    url: str
    host: str
    port: int
    backend: Backend
    name: str = "luigid"
    startup_seconds: float = 0.0
    _process: ServiceProcess | None = field(default=None, repr=False)
    _base: Path | None = field(default=None, repr=False)

    def task_list(self, status: str | None = None) -> dict[str, Any]:
        """Return luigid's tasks (by task id), optionally only those with ``status``."""
        body = json.loads(http_get(task_list_url(self.url, status), timeout=10.0))
        response: dict[str, Any] = body["response"]
        return response

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of luigid's output and server log."""
        if self._process is None or self._base is None:
            return f"(scheduler from ${ENV_VARS['luigid']}: no log available)"
        from luigi_ufo._logtail import tail

        server_log = tail(self._base / "logs" / "luigi-server.log", lines)
        return f"{self._process.log_tail(lines)}\n--- luigi-server.log ---\n{server_log}"

    def stop(self) -> None:
        """Stop luigid and remove its log and state directory."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None


def _start_native() -> LuigidService:
    base = Path(tempfile.mkdtemp(prefix="luigi-ufo-luigid-"))
    (base / "logs").mkdir()  # luigid fails to start when --logdir does not exist
    port = free_port(HOST)
    service = LuigidService(
        url=f"http://{HOST}:{port}", host=HOST, port=port, backend=Backend.NATIVE, _base=base
    )
    try:
        process = ServiceProcess(
            luigid_argv(
                python=sys.executable,
                host=HOST,
                port=port,
                logdir=base / "logs",
                state_path=base / "state.pickle",
            ),
            log=base / "luigid.out",
            cwd=base,
        )
        service._process = process
        service.startup_seconds = wait_until(
            lambda: isinstance(service.task_list(), dict),
            what=f"luigid at {service.url!r}",
            timeout=READY_TIMEOUT,
            alive=process.running,
            log_tail=service.log_tail,
        )
    except BaseException:
        service.stop()
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
