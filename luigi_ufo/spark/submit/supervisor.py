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
from collections.abc import Callable, Sequence
from functools import lru_cache
from types import FrameType
from typing import Any

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
    """SIGTERM the child's process tree and groups; SIGKILL what survives ``grace_s``.

    With ``mark``, the processes marked with it (``APP_ENV``) are part of the tree wherever
    they were reparented.
    """
    process = _process_module()
    also = (lambda: process.marked(APP_ENV, mark)) if mark else None
    stopped = process.stop_tree(proc, grace_s, also=also)
    return f"killed process group {proc.pid} ({stopped.found} processes) with {stopped.signal}"


def stop_marked(mark: str) -> list[int]:
    """SIGKILL every process marked with ``mark`` (``APP_ENV``); return their pids."""
    process = _process_module()
    return list(process.kill_now(process.marked(APP_ENV, mark)))


@lru_cache(maxsize=1)
def _process_module() -> Any:
    """Return ``luigi_ufo/services/process.py``, loaded by path as this file is run.

    A package import would depend on the worker's ``sys.path``; the module needs only the
    standard library and psutil.
    """
    import importlib.util  # here, not at start: spark-submit starts first

    name = "luigi_ufo.services.process"
    if name in sys.modules:  # imported already (the runner, in the worker)
        return sys.modules[name]
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    path = os.path.join(package, "services", "process.py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with this one
        raise ImportError(f"cannot load {path!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
        _process_module()  # loaded now (with psutil), while the JVM starts, for the end of the run

        while child.poll() is None:
            if self._terminate:
                kill_tree(child, self.grace_s, self.mark)
                break
            if self._worker_gone or self._read_lifeline():
                self._worker_gone = True
                self._drain_lifeline()  # the parent-death signal may come before the last line
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

        process = _process_module()
        marked = process.marked(APP_ENV, self.mark) if self.mark else []
        # As subreaper, orphans that lost the mark are our children now.
        found = {p.pid: p for p in [*marked, *psutil.Process().children(recursive=True)]}
        left = process.wait_gone(found.values(), settle_s)
        if left:
            pids = process.kill_now(left)
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
        return not self._take_from_lifeline()

    def _drain_lifeline(self) -> None:
        """Take whatever the worker sent that is still unread, without waiting."""
        while select.select([self.lifeline], [], [], 0)[0] and self._take_from_lifeline():
            pass

    def _take_from_lifeline(self) -> bool:
        """Read once from the (ready) lifeline; return False at end-of-file."""
        try:
            data = os.read(self.lifeline, 65536)
        except OSError:
            return False
        if not data:
            return False
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.remote_kill = [str(a) for a in json.loads(line)["kill"]]
        return True

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
