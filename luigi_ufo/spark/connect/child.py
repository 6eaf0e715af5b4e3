"""The process a Connect run's Python runs in: forked from the worker, killable, its output masked.

The Luigi worker forks (it has imported pyspark's Connect client but opened no gRPC channel, so
the child starts in milliseconds and owns every channel it opens). The child leads its own
process group, so a timeout kills it and whatever it started however it blocks. Like a fresh
interpreter under spark-submit, it writes everything to its stdout and stderr (one pipe, read and
masked line by line by the worker: prints, logging, warnings and tracebacks alike) and it has the
logging and warnings configuration of a fresh interpreter, not the worker's handlers and filters.
It reports to the worker through a message pipe, and watches a *lifeline*: a pipe whose write end
only the worker holds, so end-of-file means the worker is gone, however it died.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Signals whose handlers the worker may have set: the child takes the defaults back.
_RESET_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGQUIT")
#: A fresh interpreter's warnings filters (https://docs.python.org/3/library/warnings.html).
_DEFAULT_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)
#: How long the child may take to stop its work on the server once the worker is gone.
LIFELINE_GRACE_S = 10.0
#: Exit status of a child whose target raised (its traceback went to stderr).
FAILED = 70
#: File descriptors only a parent may hold (other children's pipe ends): closed in each child.
_PARENT_ONLY: set[int] = set()


class Sender:
    """The child's end of the message pipe (thread-safe; a vanished worker is ignored)."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def __call__(self, kind: str, payload: Any = None) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._conn.send((kind, payload))


@dataclass
class Lifeline:
    """What the child does when the worker dies: ``on_death`` (bounded), then kill its group."""

    fd: int
    on_death: Callable[[], object] | None = None

    def watch(self) -> None:
        """Start the thread that waits for the worker's end."""
        threading.Thread(target=self._wait, name="luigi-ufo-lifeline", daemon=True).start()

    def _wait(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self.fd, 4096):
                pass
        if self.on_death is not None:
            helper = threading.Thread(target=self.on_death, name="luigi-ufo-orphaned", daemon=True)
            helper.start()
            helper.join(LIFELINE_GRACE_S)
        os.killpg(0, signal.SIGKILL)


@dataclass
class Child:
    """A forked child seen from the worker: its pid (and process group), pipes and exit status."""

    pid: int
    messages: multiprocessing.connection.Connection
    output: int
    lifeline: int
    status: int | None = None

    def poll(self) -> int | None:
        """Return the exit status once the child has exited (``-N``: killed by signal N)."""
        if self.status is None:
            try:
                pid, raw = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.status
            if pid:
                self.status = os.waitstatus_to_exitcode(raw)
        return self.status

    def wait(self) -> int:
        """Wait for the child's exit; return its status."""
        while self.poll() is None:
            with contextlib.suppress(ChildProcessError):
                _, raw = os.waitpid(self.pid, 0)
                self.status = os.waitstatus_to_exitcode(raw)
        assert self.status is not None
        return self.status

    def close(self) -> None:
        """Close the worker's ends of the pipes (the lifeline last: the child sees EOF)."""
        _PARENT_ONLY.discard(self.messages.fileno())
        self.messages.close()
        for fd in (self.output, self.lifeline):
            _PARENT_ONLY.discard(fd)
            with contextlib.suppress(OSError):
                os.close(fd)


def describe_exit(status: int | None) -> str:
    """Say how a child ended, for messages."""
    if status is None:
        return "still running"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"killed by {name}"
    return f"exited with code {status}"


def fork_child(target: Callable[[Sender, Lifeline], None]) -> Child:
    """Fork a child that runs ``target(send, lifeline)`` and exits; return it to the worker.

    The child's stdout and stderr go to :attr:`Child.output`; ``send`` reaches
    :attr:`Child.messages`. A child never returns into the worker's code: it ends with
    ``os._exit``, so nothing of the worker (atexit handlers, buffers) runs twice.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    output_r, output_w = os.pipe()
    lifeline_r, lifeline_w = os.pipe()
    receive, send = multiprocessing.Pipe(duplex=False)
    with warnings.catch_warnings():
        # Python >= 3.12 warns that forking a process with threads may deadlock the child: this
        # child takes no lock of the worker's (new stdio, logging re-initialised by logging).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child
        # The worker's objects are the child's too: a collection would touch (and so copy) every
        # page holding them. Only the child's own objects are collected.
        gc.freeze()
        code = 0
        try:
            receive.close()
            for fd in (output_r, lifeline_w, *_PARENT_ONLY):
                with contextlib.suppress(OSError):
                    os.close(fd)
            become_fresh_process(output_w)
            lifeline = Lifeline(lifeline_r)
            lifeline.watch()
            target(Sender(send), lifeline)
        except BaseException:
            code = FAILED
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
            os._exit(code)
    os.close(output_w)
    os.close(lifeline_r)
    send.close()
    _PARENT_ONLY.update((output_r, lifeline_w, receive.fileno()))
    return Child(pid=pid, messages=receive, output=output_r, lifeline=lifeline_w)


def become_fresh_process(output_fd: int) -> None:
    """Make this (forked) process look like a fresh interpreter writing to ``output_fd``."""
    os.setpgid(0, 0)
    for name in _RESET_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    # sys.__stdout__ and sys.__stderr__ stay: they write to fds 1 and 2 too (flushed at fork).
    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False))  # noqa: SIM115
    sys.stdout = _text(1)
    sys.stderr = _text(2)
    sys.excepthook = sys.__excepthook__
    threading.excepthook = threading.__excepthook__
    _fresh_logging()
    _fresh_warnings()


def _text(fd: int) -> io.TextIOWrapper:
    raw = open(fd, "wb", buffering=0, closefd=False)  # noqa: SIM115
    return io.TextIOWrapper(
        raw, encoding="utf-8", errors="backslashreplace", line_buffering=True, write_through=True
    )


def _fresh_logging() -> None:
    """No handler anywhere, root at WARNING: records reach stderr only as the script says."""
    logging.captureWarnings(False)
    root = logging.getLogger()
    loggers = [root] + [
        value
        for value in logging.Logger.manager.loggerDict.values()
        if isinstance(value, logging.Logger)
    ]
    for each in loggers:
        for handler in list(each.handlers):
            each.removeHandler(handler)
        each.setLevel(logging.NOTSET)
        each.propagate = True
        each.disabled = False
    root.setLevel(logging.WARNING)
    logging.disable(logging.NOTSET)


def _fresh_warnings() -> None:
    """A fresh interpreter's filters, shown on stderr (not the worker's capture or errors)."""
    warnings.resetwarnings()
    for action, category, module in _DEFAULT_FILTERS:
        warnings.filterwarnings(action, category=category, module=module, append=True)  # type: ignore[arg-type]

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show
