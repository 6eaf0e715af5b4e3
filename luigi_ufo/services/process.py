"""Local processes: which process a recorded pid names, and stopping a process tree.

A pid names a process only while it lives: the kernel hands it out again. :class:`ProcessRef`
adds the process's start time, so a record (``dev``'s state file, a Connect server's state, a
``postmaster.pid``, a file named after the run that wrote it) tells its own process from a later
one with the same pid. :func:`stop_tree` stops a process with its descendants and the process
groups they lead, however they were reparented.

This file imports only the standard library and psutil: the spark-submit supervisor, which runs
by path and so must not depend on the worker's ``sys.path``, loads it by path too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

import psutil

if TYPE_CHECKING:  # not imported at run time: the supervisor loads this file while it starts
    from pathlib import Path

__all__ = [
    "SAME_START_S",
    "ChildProcess",
    "ProcessRef",
    "Stopped",
    "kill_now",
    "marked",
    "signal_group",
    "stop_tree",
    "sweep",
    "wait_gone",
]

#: Two start times closer than this are one process. Wide enough for a start time recorded by
#: the process itself in whole seconds (``postmaster.pid``) against the kernel's, which psutil
#: derives from the boot time in whole seconds; a pid is not handed out again that fast.
SAME_START_S = 2.0
_POLL_S = 0.05


class ProcessRef(NamedTuple):
    """A process as a record keeps it: its pid and start time (epoch seconds)."""

    pid: int
    started: float

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        """Return the reference of live process ``pid``; None if it is gone or a zombie."""
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return cls(pid, proc.create_time())
        except psutil.Error:
            return None

    @classmethod
    def current(cls) -> ProcessRef:
        """Return the reference of this process."""
        proc = psutil.Process()
        return cls(proc.pid, proc.create_time())

    @classmethod
    def from_tag(cls, tag: str) -> ProcessRef | None:
        """Parse a :attr:`tag`; None if ``tag`` is not one."""
        pid, _, millis = tag.partition("-")
        try:
            return cls(int(pid), int(millis) / 1000)
        except ValueError:
            return None

    @property
    def tag(self) -> str:
        """``<pid>-<start time in ms>``: names files that belong to this process."""
        return f"{self.pid}-{int(self.started * 1000)}"

    def process(self) -> psutil.Process | None:
        """Return the live process if it is still this one (not a zombie, not a reused pid)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.started) >= SAME_START_S:
                return None
            return None if proc.status() == psutil.STATUS_ZOMBIE else proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        """Whether the recorded process still runs."""
        return self.process() is not None


class ChildProcess(Protocol):
    """A child this process started and reaps itself: a ``subprocess.Popen``, a forked child."""

    @property
    def pid(self) -> int:
        """Its process id."""
        ...

    def poll(self) -> int | None:
        """Reap it if it has exited; return its status, or None while it runs."""
        ...


class Stopped(NamedTuple):
    """What :func:`stop_tree` did: how many processes it found and the signal that ended them."""

    pid: int
    found: int
    #: The signal the tree ended on ("SIGTERM", "SIGINT", ... or "SIGKILL"; the first asking
    #: signal when nothing ran).
    signal: str

    @property
    def killed(self) -> bool:
        """Whether something of the tree had to be killed with SIGKILL."""
        return self.signal == "SIGKILL"


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_tree(
    root: int | ProcessRef | ChildProcess,
    grace: float = 10.0,
    *,
    ask: Sequence[tuple[signal.Signals, float]] | None = None,
    root_only: bool = False,
    also: Callable[[], Iterable[psutil.Process]] | None = None,
    kill_wait: float = 5.0,
) -> Stopped:
    """Stop ``root``, its descendants and the members of their process groups; SIGKILL the rest.

    The tree is asked to stop by each ``(signal, seconds)`` of ``ask`` in turn (default: SIGTERM
    and ``grace`` seconds) until no member lives; then what is left gets SIGKILL. With
    ``root_only`` the asking signals go to ``root`` alone (a server that stops its own workers,
    such as PostgreSQL's postmaster); ``also`` adds processes found another way (an
    application's marked processes, wherever they were reparented). Members are looked for
    again after each wait, so a process forked meanwhile is not missed. Neither this process
    nor its process group is ever signalled. A ``ChildProcess`` root is reaped by its own ``poll``,
    never here, so its owner still gets its exit status.
    """
    child = None if isinstance(root, int | ProcessRef) else root
    tree = _Tree(root, also)
    found = len(tree.members)
    stopped = None
    for sig, seconds in ask or ((signal.SIGTERM, grace),):
        if root_only:
            tree.signal_root(sig)
        else:
            tree.signal(sig)
        if tree.wait(seconds):
            stopped = Stopped(tree.pid, found, sig.name)
            break
    else:
        tree.signal(signal.SIGKILL)
        tree.wait(kill_wait)
    if child is not None:
        # Ended now (it may have died before the tree was looked at: a zombie, so no member);
        # its owner's poll() reaps it, so its Popen knows it ended.
        deadline = time.monotonic() + kill_wait
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(_POLL_S)
    return stopped or Stopped(tree.pid, found, "SIGKILL")


class _Tree:
    """The processes of one tree as :func:`stop_tree` finds them, looked for again on demand."""

    def __init__(
        self,
        root: int | ProcessRef | ChildProcess,
        also: Callable[[], Iterable[psutil.Process]] | None,
    ) -> None:
        self.child = None if isinstance(root, int | ProcessRef) else root
        self.pid = root if isinstance(root, int) else root.pid
        self.also = also
        self.own_group = os.getpgrp()
        self.root = self._root(root)
        # A root gone already may have left members in the group it led: the kernel does not
        # hand its pid out again while that group has members.
        self.groups: set[int] = set()
        if self.root is not None or not psutil.pid_exists(self.pid):
            self.groups.add(self.pid)
        self.members: dict[int, psutil.Process] = {}
        self.look()

    def _root(self, root: int | ProcessRef | ChildProcess) -> psutil.Process | None:
        if isinstance(root, ProcessRef):
            return root.process()
        if self.child is not None and self.child.poll() is not None:
            return None  # reaped: its pid may be another process's now
        try:
            return psutil.Process(self.pid)
        except psutil.Error:
            return None

    def look(self) -> None:
        """Add the root's live descendants, their groups' members and ``also`` to the tree."""
        parents: dict[int, list[psutil.Process]] = {}
        by_group: dict[int, list[psutil.Process]] = {}
        for proc in psutil.process_iter():
            if proc.pid == os.getpid():
                continue
            with contextlib.suppress(psutil.Error, OSError):
                parents.setdefault(proc.ppid(), []).append(proc)
                by_group.setdefault(os.getpgid(proc.pid), []).append(proc)
        found: list[psutil.Process] = []
        if self.root is not None and _alive(self.root):  # else its pid may be another's now
            found.append(self.root)
            stack = [self.root.pid]
            while stack:
                for proc in parents.get(stack.pop(), []):
                    found.append(proc)
                    stack.append(proc.pid)
        if self.also is not None:
            found.extend(self.also())
        for proc in found:
            with contextlib.suppress(psutil.Error, OSError):
                self.groups.add(os.getpgid(proc.pid))
        self.groups.discard(self.own_group)
        for group in self.groups:
            found.extend(by_group.get(group, []))
        for proc in found:
            if proc.pid != os.getpid() and _alive(proc):
                self.members.setdefault(proc.pid, proc)

    def signal_root(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the root alone."""
        if self.root is not None:
            with contextlib.suppress(psutil.Error):
                self.root.send_signal(sig)

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to every group of the tree and to every member."""
        for group in self.groups:
            signal_group(group, sig)
        for proc in self.members.values():
            # psutil refuses to signal a pid that was handed to another process meanwhile.
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every member to end; True if none is left."""
        deadline = time.monotonic() + timeout
        while True:
            self.members = {pid: p for pid, p in self.members.items() if self._lives(p)}
            if not self.members:
                self.look()  # anything forked since the last look?
                if not self.members:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)

    def _lives(self, proc: psutil.Process) -> bool:
        if self.child is not None and proc.pid == self.child.pid:
            return self.child.poll() is None
        # Reaps those that are this process's children (orphans adopted as subreaper).
        with contextlib.suppress(psutil.Error, ChildProcessError):
            psutil.wait_procs([proc], timeout=0)
        return _alive(proc)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def marked(name: str, *values: str) -> list[psutil.Process]:
    """Return the live processes whose environment variable ``name`` lists one of ``values``.

    The variable holds one value or a comma-separated list. This process is never returned,
    nor another user's (its environment cannot be read).
    """
    wanted = set(values)
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            listed = proc.environ().get(name)
        except psutil.Error:  # gone, a zombie, or another user's
            continue
        if listed is not None and wanted.intersection(listed.split(",")) and _alive(proc):
            found.append(proc)
    return found


def wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` seconds for ``procs`` to end (reaping this process's children).

    Return those still alive.
    """
    procs = list(procs)
    end = time.monotonic() + timeout
    while True:
        # wait_procs reaps those that are this process's children (adopted orphans, too).
        _, left = psutil.wait_procs(procs, timeout=0)
        left = [p for p in left if _alive(p)]
        if not left or time.monotonic() >= end:
            return left
        time.sleep(_POLL_S)


def kill_now(procs: Iterable[psutil.Process], timeout: float = 10.0) -> list[int]:
    """SIGKILL ``procs`` (no grace: nothing they could still do is wanted); wait until gone.

    Return their pids, sorted.
    """
    procs = list(procs)
    for proc in procs:
        # psutil refuses to signal a pid that was handed to another process meanwhile.
        with contextlib.suppress(psutil.Error):
            proc.kill()
    wait_gone(procs, timeout)
    return sorted(p.pid for p in procs)


def sweep(directory: Path, prefix: str) -> list[Path]:
    """Delete the ``<prefix><owner tag>-...`` files of ``directory`` whose owner is dead."""
    removed = []
    for path in directory.glob(f"{prefix}*"):
        owner = ProcessRef.from_tag("-".join(path.name[len(prefix) :].split("-")[:2]))
        if owner is None or not owner.alive():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed
