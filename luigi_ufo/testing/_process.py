"""A service process in its own process group, logging to a file, stopped by group."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from luigi_ufo import _pgroup
from luigi_ufo._logtail import tail
from luigi_ufo._pgroup import group_members, signal_group, wait_group

__all__ = ["ServiceProcess", "group_alive", "stop_group", "tail"]


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

    @property
    def pid(self) -> int:
        """Return the process id (also the process group id)."""
        return self.popen.pid

    def running(self) -> bool:
        """Return whether the process has not exited yet."""
        return self.popen.poll() is None

    def terminate(self) -> None:
        """Send SIGTERM to the process group without waiting."""
        signal_group(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        """Send SIGTERM to the process group, then SIGKILL whatever is left after ``timeout``."""
        signal_group(self.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        # Children may outlive a leader that exited on SIGTERM; the group id still reaches them.
        wait_group(self.pid, timeout if self.popen.poll() is None else 2.0)
        signal_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the process's log."""
        return tail(self.log, lines)


def stop_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGTERM process group ``pgid``, SIGKILL what is left after ``timeout``.

    For a group this process did not start (or no longer holds the Popen of): its leader is
    reaped by whoever is its parent now.
    """
    _pgroup.stop_group(pgid, timeout)


def group_alive(pgid: int) -> bool:
    """Return whether process group ``pgid`` has a member that is not a zombie."""
    return bool(group_members(pgid))
