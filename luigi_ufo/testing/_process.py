"""A service process in its own process group, logging to a file, stopped by group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from luigi_ufo._logtail import tail

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
        _signal_group(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        """Send SIGTERM to the process group, then SIGKILL whatever is left after ``timeout``."""
        _signal_group(self.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        # Children may outlive a leader that exited on SIGTERM; the group id still reaches them.
        deadline = time.monotonic() + (timeout if self.popen.poll() is None else 2.0)
        while group_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        _signal_group(self.pid, signal.SIGKILL)
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
    _signal_group(pgid, signal.SIGTERM)
    for limit, sig in ((timeout, signal.SIGKILL), (5.0, None)):
        deadline = time.monotonic() + limit
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if sig is not None and group_alive(pgid):
            _signal_group(pgid, sig)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Return whether process group ``pgid`` has a member that is not a zombie."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    # killpg(pgid, 0) also succeeds for zombies nobody reaps (a container's init may not), so
    # look for a member that is not a zombie: fields after "(comm)" are state, ppid, pgrp.
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
