"""luigid, Luigi's central scheduler, as a local process on a loopback port."""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from luigi_ufo.services.logs import tail
from luigi_ufo.services.readiness import http_get, wait_until
from luigi_ufo.services.service_process import ServiceProcess

__all__ = ["HOST", "VISUALISER", "Luigid", "luigid_argv", "task_list", "task_list_url"]

HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
#: The path of luigid's web UI.
VISUALISER = "/static/visualiser/index.html"


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


def task_list(base_url: str, status: str | None = None) -> dict[str, Any]:
    """Return the tasks of the luigid at ``base_url`` (by task id), only ``status`` if given."""
    body = json.loads(http_get(task_list_url(base_url, status), timeout=10.0))
    response: dict[str, Any] = body["response"]
    return response


class Luigid:
    """luigid started in ``base`` (its ``logs/`` and output log) on ``port`` of loopback.

    ``state_path``: its task history (default ``base/state.pickle``).
    """

    def __init__(self, base: Path, port: int, *, state_path: Path | None = None) -> None:
        self.base = base
        self.url = f"http://{HOST}:{port}"
        # luigid fails to start when --logdir does not exist.
        (base / "logs").mkdir(parents=True, exist_ok=True)
        argv = luigid_argv(
            python=sys.executable,
            host=HOST,
            port=port,
            logdir=base / "logs",
            state_path=state_path or base / "state.pickle",
        )
        self.process = ServiceProcess(argv, log=base / "luigid.log", cwd=base)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Wait until luigid answers ``/api/task_list``; return the seconds waited."""
        return wait_until(
            lambda: isinstance(task_list(self.url), dict),
            what=f"luigid at {self.url!r}",
            timeout=timeout,
            alive=self.process.running,
            log_tail=self.log_tail,
        )

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of luigid's output and server log."""
        server_log = tail(self.base / "logs" / "luigi-server.log", lines)
        return f"{self.process.log_tail(lines)}\n--- luigi-server.log ---\n{server_log}"

    def stop(self) -> None:
        """Stop luigid."""
        self.process.stop()
