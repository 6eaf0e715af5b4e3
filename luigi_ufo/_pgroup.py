"""Process groups: signal one, list its live members (zombies do not count), stop one."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_members(pgid: int) -> list[int]:
    """Return the pids of the live (non-zombie) members of process group ``pgid``.

    Without ``/proc``: ``[pgid]`` while the group can be signalled, else ``[]``.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    # killpg(pgid, 0) also succeeds for zombies nobody reaps (a container's init may not), so
    # look for members that are not zombies: fields after "(comm)" are state, ppid, pgrp.
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def wait_group(pgid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for group ``pgid`` to have no live member; True if none."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_group(pgid: int, grace: float, kill_wait: float = 5.0) -> bool:
    """SIGTERM group ``pgid``, SIGKILL it if members remain after ``grace`` seconds.

    Returns whether the group ended on SIGTERM. A leader this process started is not reaped
    here: its Popen (or whoever is its parent now) does that.
    """
    signal_group(pgid, signal.SIGTERM)
    if wait_group(pgid, grace):
        return True
    signal_group(pgid, signal.SIGKILL)
    wait_group(pgid, kill_wait)
    return False
