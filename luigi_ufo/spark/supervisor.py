"""Keep a spark-submit process tree from outliving the Luigi worker that started it.

The runner starts this file as a small process between itself and ``spark-submit``
(``python supervisor.py --lifeline FD ... -- spark-submit ...``). The supervisor starts
spark-submit, passes on its exit status, and watches the *lifeline*: a pipe whose only write end
the worker holds. The OS closes it when the worker dies, even by SIGKILL, so end-of-file means
"the worker is gone": the supervisor then runs the remote kill command the worker last sent (a
cluster-mode application), kills spark-submit's whole tree (SIGTERM, SIGKILL after the grace
period), removes the files it was given (the private properties file) and exits. On Linux a
parent-death signal is the second line: SIGHUP to the supervisor when the worker dies, and
SIGKILL to spark-submit when the supervisor dies.

Every process of the application carries the runner's mark in its environment (``APP_ENV``:
spark-submit inherits it, and the JVM passes it on to the Python driver and pyspark's daemons
and workers), so its members are found even after their parent died and they were reparented.
When spark-submit ends, however it ends, the supervisor stops whatever of the application is
left (on Linux it is also the subreaper of the tree, so orphans that dropped the mark come back
to it), says how spark-submit ended if a signal killed it, and only then exits: the leases it
holds outlive every process that could still write.

This file is run by path, so it imports only the standard library and psutil (psutil once
spark-submit has started, while its JVM starts: the start of the application waits for no more
than the interpreter's start).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: Marks every process of one application (its value: the runner's id of the run).
APP_ENV = "LUIGI_UFO_APP"
#: The supervisor's pid, in the application's environment: a driver whose parent it is (as
#: subreaper) has lost its JVM (see launcher.py).
SUPERVISOR_ENV = "LUIGI_UFO_SUPERVISOR"
#: Upper bound of a wait; the child's exit (SIGCHLD) and the lifeline wake the loop at once.
_POLL_S = 1.0
_REMOTE_KILL_TIMEOUT_S = 120.0
_PREFIX = "luigi-ufo supervisor:"
#: After spark-submit ends normally, pyspark's daemons exit by themselves a moment later.
_SETTLE_S = 2.0
_KILLED = re.compile(
    re.escape(_PREFIX) + r" spark-submit \(pid (?P<pid>\d+)\) was killed by (?P<signal>SIG\w+)"
)


def parse_killed(line: str) -> tuple[int, str] | None:
    """Return (pid, signal name) of the supervisor's "spark-submit was killed" line, else None."""
    match = _KILLED.match(line)
    return (int(match["pid"]), match["signal"]) if match else None


def kill_tree(proc: subprocess.Popen[bytes], grace_s: float, mark: str | None = None) -> str:
    """SIGTERM the child's process groups and descendants; SIGKILL what survives ``grace_s``.

    With ``mark``, the processes marked with it (``APP_ENV``) are part of the tree wherever
    they were reparented.
    """
    tree = _unique(_tree(proc.pid) + _marked_app(mark))
    own = os.getpgrp()
    groups = {g for g in (_pgid(p) for p in tree) if g is not None and g != own}
    _signal_all(groups, tree, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
        how = "SIGTERM"
    except subprocess.TimeoutExpired:
        how = "SIGKILL"
    # Descendants may outlive the JVM (pyspark's daemon leads its own process group), and may
    # have started after the first look: look again.
    # A process forked after the first look whose parent has exited since is in neither tree but
    # still in one of the groups: look there too.
    again = tree + _tree(proc.pid) + _members(groups) + _marked_app(mark)
    survivors = [p for p in _unique(again) if _alive(p)]
    if survivors or how == "SIGKILL":
        _signal_all(groups, survivors, signal.SIGKILL)
        how = "SIGKILL"
    proc.wait()
    _wait_gone(survivors, timeout_s=5.0)
    return f"killed process group {proc.pid} ({len(tree)} processes) with {how}"


def marked(name: str, *values: str) -> list[psutil.Process]:
    """Return the live processes whose environment variable ``name`` lists one of ``values``.

    The variable holds one value or a comma-separated list. This process is never returned,
    nor another user's (its environment cannot be read).
    """
    import psutil

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


def kill_now(procs: list[psutil.Process], timeout_s: float = 10.0) -> list[int]:
    """SIGKILL ``procs`` (no grace: nothing they could still do is wanted); wait until gone.

    Return their pids, sorted.
    """
    import psutil

    for proc in procs:
        # psutil refuses to signal a pid that was reused by another process meanwhile.
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _wait_gone(procs, timeout_s)
    return sorted(p.pid for p in procs)


def stop_marked(mark: str) -> list[int]:
    """SIGKILL every process marked with ``mark`` (``APP_ENV``); return their pids."""
    return kill_now(marked(APP_ENV, mark))


def _marked_app(mark: str | None) -> list[psutil.Process]:
    return marked(APP_ENV, mark) if mark else []


def _tree(pid: int) -> list[psutil.Process]:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _members(groups: set[int]) -> list[psutil.Process]:
    import psutil

    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) in groups:
                found.append(proc)
    return found


def _unique(procs: list[psutil.Process]) -> list[psutil.Process]:
    return list({p.pid: p for p in procs}.values())


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except (ProcessLookupError, PermissionError):
        return None


def _signal_all(groups: set[int], procs: list[psutil.Process], sig: signal.Signals) -> None:
    import psutil

    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
    for proc in procs:
        # psutil refuses to signal a pid that was reused by another process meanwhile.
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def _alive(proc: psutil.Process) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait up to ``timeout_s`` for ``procs`` to end (reaping our own children); return the rest."""
    import psutil

    end = time.monotonic() + timeout_s
    while True:
        # wait_procs reaps those that are our children (adopted orphans, as subreaper).
        _, alive = psutil.wait_procs(procs, timeout=0)
        alive = [p for p in alive if _alive(p)]
        if not alive or time.monotonic() >= end:
            return alive
        time.sleep(0.05)


def set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False elsewhere."""
    libc = _libc()
    return libc is not None and int(libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0


def become_subreaper() -> bool:
    """Make orphaned descendants children of this process (Linux); False elsewhere."""
    libc = _libc()
    return libc is not None and int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    # Loaded once in the supervisor, so the forked child only calls prctl before exec.
    return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class Supervisor:
    """Run one spark-submit argv under a lifeline; see the module docstring."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        lifeline: int,
        grace_s: float,
        lease_fds: Sequence[int] = (),
        remove: Sequence[str] = (),
    ) -> None:
        self.argv = list(argv)
        self.lifeline = lifeline
        self.grace_s = grace_s
        self.lease_fds = list(lease_fds)
        self.remove = list(remove)
        #: The application's mark (APP_ENV), inherited from the runner with the environment.
        self.mark = os.environ.get(APP_ENV) or None
        self.remote_kill: list[str] | None = None
        self._buffer = b""
        self._worker_gone = False
        self._terminate = False
        # SIGCHLD writes a byte here (set_wakeup_fd), so the child's exit wakes the select.
        self._wakeup_r, wakeup_w = os.pipe()
        os.set_blocking(wakeup_w, False)
        signal.set_wakeup_fd(wakeup_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)

    def run(self) -> int:
        """Start the child and supervise it; return the exit status to pass on."""
        try:
            child = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                pass_fds=self.lease_fds,
                start_new_session=True,
                # preexec_fn is safe here: the supervisor runs no threads.
                preexec_fn=_child_dies_with_us,
            )
        except OSError as exc:
            _say(f"cannot start {self.argv[0]!r}: {exc.strerror}")
            self._remove_files()
            return 127
        for fd in self.lease_fds:
            _record_holder(fd, child.pid)
        import psutil  # noqa: F401 - loaded now, while the JVM starts, for the end of the run

        while child.poll() is None:
            if self._terminate:
                kill_tree(child, self.grace_s, self.mark)
                break
            if self._worker_gone or self._read_lifeline():
                self._worker_gone = True
                self._worker_died(child)
                return 0
        status = child.wait()
        if self._terminate:
            _say(f"stopped spark-submit (pid {child.pid}) on SIGTERM")
        elif status < 0:
            _say(f"spark-submit (pid {child.pid}) was killed by {signal.Signals(-status).name}")
        self._stop_leftovers(settle_s=_SETTLE_S if status == 0 else 0.0)
        self._remove_files()
        return status

    def _stop_leftovers(self, settle_s: float) -> None:
        """Stop what is left of the application after spark-submit ended: it must not write on.

        After a JVM killed by the OOM killer, its Python driver would otherwise go on, orphaned.
        """
        import psutil

        # As subreaper, orphans that lost the mark are our children now.
        left = _unique(_marked_app(self.mark) + psutil.Process().children(recursive=True))
        left = _wait_gone(left, settle_s)
        if left:
            pids = kill_now(left)
            _say(
                f"stopped {len(pids)} process(es) of the application left after spark-submit "
                f"ended, with SIGKILL (pids {', '.join(map(str, pids))})"
            )

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGHUP: the worker died (parent-death signal); SIGTERM: stop the application."""
        if signum == signal.SIGHUP:
            self._worker_gone = True
        else:
            self._terminate = True

    def _read_lifeline(self) -> bool:
        """Read what the worker sent; return True at end-of-file (the worker is gone)."""
        ready, _, _ = select.select([self.lifeline, self._wakeup_r], [], [], _POLL_S)
        if self._wakeup_r in ready:
            os.read(self._wakeup_r, 4096)
        if self.lifeline not in ready:
            return False
        try:
            data = os.read(self.lifeline, 65536)
        except OSError:
            return True
        if not data:
            return True
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.remote_kill = [str(a) for a in json.loads(line)["kill"]]
        return False

    def _worker_died(self, child: subprocess.Popen[bytes]) -> None:
        # In cluster deploy mode the application runs elsewhere: kill it there first.
        if self.remote_kill:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(
                    self.remote_kill,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=_REMOTE_KILL_TIMEOUT_S,
                    check=False,
                )
        kill_tree(child, self.grace_s, self.mark)
        self._stop_leftovers(settle_s=0.0)
        self._remove_files()

    def _remove_files(self) -> None:
        for path in self.remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _child_dies_with_us() -> None:
    # Runs in the forked child before exec: spark-submit gets SIGKILL if the supervisor dies.
    set_parent_death_signal(signal.SIGKILL)


def _record_holder(fd: int, pid: int) -> None:
    # The lease file names the process holding it, for the message of a waiting retry.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{pid}\n".encode("ascii"), 0)


def _say(message: str) -> None:
    # stderr is spark-submit's output pipe: the runner logs this line with the others.
    with contextlib.suppress(OSError):
        sys.stderr.write(f"{_PREFIX} {message}\n")
        sys.stderr.flush()


def _exit_like(status: int) -> int:
    """Return ``status`` as an exit code; a child killed by a signal kills us with it too."""
    if status >= 0:
        return status
    # SIGKILL cannot be handled (EINVAL): its action is the default one already.
    with contextlib.suppress(OSError, ValueError):
        signal.signal(-status, signal.SIG_DFL)
    os.kill(os.getpid(), -status)
    return 128 - status


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="supervisor.py", description=__doc__)
    parser.add_argument("--lifeline", type=int, required=True, help="read end of the lifeline")
    parser.add_argument("--parent", type=int, required=True, help="pid of the worker")
    parser.add_argument("--grace", type=float, required=True, help="SIGTERM..SIGKILL seconds")
    parser.add_argument("--lease-fd", type=int, action="append", default=[])
    parser.add_argument("--remove", action="append", default=[], help="file to delete at end")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("no command given after --")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Supervise the command after ``--``; return its exit status."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    supervisor = Supervisor(
        args.command,
        lifeline=args.lifeline,
        grace_s=args.grace,
        lease_fds=args.lease_fd,
        remove=args.remove,
    )
    os.environ[SUPERVISOR_ENV] = str(os.getpid())  # passed on to spark-submit and its tree
    handler: Callable[[int, FrameType | None], None] = supervisor.on_signal
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
    # The worker may have died before the parent-death signal was set: check who the parent is.
    if set_parent_death_signal(signal.SIGHUP) and os.getppid() != args.parent:
        supervisor.on_signal(signal.SIGHUP, None)
    become_subreaper()
    return _exit_like(supervisor.run())


if __name__ == "__main__":
    sys.exit(main())
