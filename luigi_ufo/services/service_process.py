"""A service process in its own process group, logging to a file."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from luigi_ufo.services.logs import tail
from luigi_ufo.services.process import ProcessRef, signal_group, stop_tree

__all__ = ["ServiceProcess"]


class ServiceProcess:
    """Start ``argv`` in a new session (own process group) with output to ``log``."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                # A new session makes the process a group leader, so stop() reaches its children
                # (Spark executors, Python workers) with one signal.
                start_new_session=True,
            )
        self.ref = ProcessRef.of(self.popen.pid) or ProcessRef(self.popen.pid, 0.0)

    @property
    def pid(self) -> int:
        """Return the process id (also the process group id)."""
        return self.popen.pid

    def running(self) -> bool:
        """Return whether the process has not exited yet."""
        return self.popen.poll() is None

    def terminate(self) -> None:
        """Send SIGTERM to the process group without waiting (to overlap several shutdowns)."""
        signal_group(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process and its group: SIGTERM, then SIGKILL what is left after ``timeout``."""
        stop_tree(self.popen, timeout)

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the process's log."""
        return tail(self.log, lines)
