"""Run ``spark-submit`` for a :class:`SubmitSpec`: live log lines, progress, timeout and kill.

The runner holds no reference to a Luigi task: it takes plain callbacks, so nothing here needs
pickling and a task using it works under every multiprocessing start method.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from luigi_ufo.errors import SparkSubmitError
from luigi_ufo.spark.command import (
    SubmitSpec,
    build_argv,
    format_argv,
    kill_argv,
    mask,
    mask_argv,
    validate,
)
from luigi_ufo.spark.lease import HeldLeases, partition_leases, release_unused
from luigi_ufo.spark.progress import (
    LineSplitter,
    StageProgress,
    describe,
    is_progress_bar,
    parse_ids,
    parse_progress,
    percent,
)
from luigi_ufo.spark.properties import private_properties_file
from luigi_ufo.spark.settings import SparkSettings
from luigi_ufo.spark.supervisor import kill_tree

logger = logging.getLogger("luigi_ufo.spark")

_TRACEBACK_HEAD = "Traceback (most recent call last):"
_TRACEBACK_MAX = 80
_LOG4J_LINE = re.compile(r"\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} [A-Z]+ ")
_POLL_S = 0.2
_PROGRESS_MIN_INTERVAL_S = 0.5
_DRAIN_S = 10.0
SUPERVISOR = Path(__file__).with_name("supervisor.py")
# Defaults of the keyword arguments: the one declaration of each, in [spark_script].
_DEFAULTS = SparkSettings()


@dataclass
class RunResult:
    """What one spark-submit run produced (all text already masked)."""

    returncode: int
    command: str
    duration_s: float
    app_id: str | None = None
    driver_id: str | None = None
    tracking_url: str | None = None
    tail: list[str] = field(default_factory=list)
    traceback: list[str] = field(default_factory=list)


_Event = tuple[str, "str | list[StageProgress]"]


class _Interrupted(BaseException):
    """Raised inside the run loop by the SIGTERM handler or when the timeout expires."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _OutputReader(threading.Thread):
    """Read the child's merged stdout/stderr, log each line and keep the tail and ids.

    Each line is logged as ``<label>: <line>``, masked.
    """

    def __init__(
        self, fd: int, secrets: tuple[str, ...], tail_lines: int, label: str = "spark-submit"
    ) -> None:
        super().__init__(name=f"{label}-output", daemon=True)
        self._fd = fd
        self._label = label
        self._secrets = secrets
        self.tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self.traceback: list[str] = []
        self._current_tb: list[str] | None = None
        self.app_id: str | None = None
        self.driver_id: str | None = None
        self.tracking_url: str | None = None
        self.events: queue.Queue[_Event] = queue.Queue()

    def run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        splitter = LineSplitter()
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            for record in splitter.feed(decoder.decode(chunk)):
                self._handle_record(record)
        for record in splitter.feed(decoder.decode(b"", final=True)) + splitter.flush():
            self._handle_record(record)

    # Not ``_handle``: Python 3.13's Thread keeps its thread handle under that name.
    def _handle_record(self, record: str) -> None:
        stages = parse_progress(record)
        if stages:
            self.events.put(("progress", stages))
        if is_progress_bar(record):
            return
        line = mask(record, self._secrets)
        logger.info("%s: %s", self._label, line)
        self.tail.append(line)
        self._track_traceback(line)
        ids = parse_ids(line)
        if ids.app_id and not self.app_id:
            self.app_id = ids.app_id
            self.events.put(("status", f"application {ids.app_id}"))
        if ids.driver_id and not self.driver_id:
            self.driver_id = ids.driver_id
            self.events.put(("status", f"driver {ids.driver_id}"))
        if ids.tracking_url and not self.tracking_url:
            self.tracking_url = ids.tracking_url
            self.events.put(("url", ids.tracking_url))

    def _track_traceback(self, line: str) -> None:
        if line.startswith(_TRACEBACK_HEAD):
            self._current_tb = [line]
            return
        if self._current_tb is None or _LOG4J_LINE.match(line):
            # Spark's own log lines interleave with the driver's stderr; they are not frames.
            return
        if len(self._current_tb) < _TRACEBACK_MAX:
            self._current_tb.append(line)
        if line[:1] not in (" ", "\t") and (": " in line or line.rstrip().isidentifier()):
            # The first unindented line after the frames names the exception: block complete.
            self.traceback = self._current_tb
            self._current_tb = None


class SparkSubmitRunner:
    """Run one :class:`SubmitSpec` with ``spark-submit`` and report on it."""

    def __init__(
        self,
        spec: SubmitSpec,
        *,
        base_env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        tail_lines: int = _DEFAULTS.tail_lines,
        kill_grace_s: float = _DEFAULTS.kill_grace,
        on_percent: Callable[[int], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_tracking_url: Callable[[str], None] | None = None,
        cwd: str | None = None,
        leases: Sequence[str] = (),
        lease_timeout_s: float = _DEFAULTS.lease_timeout,
    ) -> None:
        self.spec = spec
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.timeout = timeout
        self.tail_lines = tail_lines
        self.kill_grace_s = kill_grace_s
        self.on_percent = on_percent
        self.on_status = on_status
        self.on_tracking_url = on_tracking_url
        self.cwd = cwd
        #: Output URIs (partitions) the application writes: one live application each.
        self.leases = tuple(leases)
        self.lease_timeout_s = lease_timeout_s
        #: Pid of the supervisor, the root of the application's process tree.
        self.pid: int | None = None
        self._lifeline: int | None = None
        self._armed: list[str] | None = None

    def run(self) -> RunResult:
        """Run spark-submit to completion; raise SparkSubmitError unless it exits 0."""
        validate(self.spec)
        env = {**self.base_env, **{str(k): str(v) for k, v in self.spec.env.items()}}
        if shutil.which(self.spec.spark_submit, path=env.get("PATH")) is None:
            raise SparkSubmitError(
                f"cannot start spark-submit {self.spec.spark_submit!r}: not found or not "
                "executable; install pyspark or set [spark_script] spark_submit to an executable "
                "spark-submit"
            )
        try:
            with (
                partition_leases(self.leases, timeout_s=self.lease_timeout_s) as held,
                # The private properties file exists only while spark-submit runs (it reads it
                # at start, but a failed start must not leave it behind either).
                private_properties_file(self.spec, env) as spec,
            ):
                written = spec.properties_file if self.spec.private_conf else None
                return self._run(build_argv(spec), env, held, [written] if written else [])
        finally:
            release_unused(self.leases)

    def _run(
        self, argv: list[str], env: dict[str, str], held: HeldLeases, remove: list[str]
    ) -> RunResult:
        command = format_argv(mask_argv(argv, self.spec.secrets))
        logger.info("running %s", command)
        started = time.monotonic()
        # The lifeline: only this process holds its write end, so the supervisor reads EOF
        # when this process dies, however it dies, and then kills the application.
        lifeline_r, self._lifeline = os.pipe()
        supervisor = [sys.executable, str(SUPERVISOR), "--lifeline", str(lifeline_r)]
        supervisor += ["--parent", str(os.getpid()), "--grace", f"{self.kill_grace_s:g}"]
        supervisor += [a for fd in held.fds for a in ("--lease-fd", str(fd))]
        supervisor += [a for path in remove for a in ("--remove", path)]
        # Own session and process group: the whole tree (supervisor, JVM, Python driver,
        # workers) can be killed together, and a Ctrl-C on the terminal reaches only our handler.
        try:
            proc = subprocess.Popen(
                [*supervisor, "--", *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
                pass_fds=(lifeline_r, *held.fds),
            )
        except OSError as exc:
            self._close_lifeline()
            raise SparkSubmitError(
                f"cannot start the spark-submit supervisor with {sys.executable!r}: "
                f"{exc.strerror}; run Luigi with a Python interpreter that can start itself"
            ) from None
        finally:
            os.close(lifeline_r)
        # The supervisor and spark-submit hold the leases now, for exactly their lifetime.
        held.close()
        self.pid = proc.pid
        assert proc.stdout is not None
        reader = _OutputReader(proc.stdout.fileno(), self.spec.secrets, self.tail_lines)
        reader.start()
        try:
            with _sigterm_interrupts():
                self._wait(proc, reader, started)
        except (_Interrupted, KeyboardInterrupt) as exc:
            reason = exc.reason if isinstance(exc, _Interrupted) else "interrupted (SIGINT)"
            actions = self._kill(proc, reader, env)
            reader.join(timeout=10)
            proc.stdout.close()
            result = self._result(proc.returncode or -1, command, started, reader)
            raise SparkSubmitError(_failure_message(result, reason, actions)) from None
        except BaseException:
            # A failing callback (luigid unreachable for set_progress_percentage, ...) must not
            # leave the application running with nobody reading its output.
            self._kill(proc, reader, env)
            reader.join(timeout=10)
            proc.stdout.close()
            raise
        finally:
            self._close_lifeline()
        reader.join(timeout=10)
        proc.stdout.close()
        result = self._result(proc.returncode, command, started, reader)
        if result.returncode != 0:
            raise SparkSubmitError(
                _failure_message(result, f"spark-submit exited with code {result.returncode}", [])
            )
        if self.on_percent is not None:
            self.on_percent(100)
        return result

    def _wait(self, proc: subprocess.Popen[bytes], reader: _OutputReader, started: float) -> None:
        deadline = None if self.timeout is None else started + self.timeout
        last_percent = -1
        last_sent = 0.0
        app_status = ""
        exited: float | None = None
        while True:
            try:
                event = reader.events.get(timeout=_POLL_S)
            except queue.Empty:
                event = None
            if event is not None and event[0] == "status":
                app_status = str(event[1])
                self._arm_remote_kill(reader)
                self._status(app_status)
            elif event is not None and event[0] == "url":
                if self.on_tracking_url is not None:
                    self.on_tracking_url(str(event[1]))
            elif event is not None and not isinstance(event[1], str):
                stages = event[1]
                now = time.monotonic()
                value = percent(stages)
                # Spark redraws every 200 ms; forward only changes, and not too often.
                if value != last_percent and now - last_sent >= _PROGRESS_MIN_INTERVAL_S:
                    last_percent, last_sent = value, now
                    if self.on_percent is not None:
                        self.on_percent(value)
                    self._status("; ".join(filter(None, [app_status, describe(stages)])))
            if proc.poll() is not None and reader.events.empty():
                exited = exited or time.monotonic()
                # An orphaned grandchild may hold the pipe open; do not wait for it forever.
                if not reader.is_alive() or time.monotonic() - exited > _DRAIN_S:
                    return
            if deadline is not None and time.monotonic() > deadline:
                raise _Interrupted(f"timed out after {self.timeout:g} s")

    def _close_lifeline(self) -> None:
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    def _arm_remote_kill(self, reader: _OutputReader) -> None:
        """Tell the supervisor how to kill the application remotely, should this process die."""
        remote = kill_argv(self.spec, driver_id=reader.driver_id, app_id=reader.app_id)
        if remote is None or remote == self._armed or self._lifeline is None:
            return
        self._armed = remote
        with contextlib.suppress(OSError):
            os.write(self._lifeline, json.dumps({"kill": remote}).encode("utf-8") + b"\n")

    def _status(self, message: str) -> None:
        if self.on_status is not None and message:
            self.on_status(message)

    def _result(self, code: int, command: str, started: float, reader: _OutputReader) -> RunResult:
        return RunResult(
            returncode=code,
            command=command,
            duration_s=time.monotonic() - started,
            app_id=reader.app_id,
            driver_id=reader.driver_id,
            tracking_url=reader.tracking_url,
            tail=list(reader.tail),
            traceback=list(reader.traceback),
        )

    def _kill(
        self, proc: subprocess.Popen[bytes], reader: _OutputReader, env: Mapping[str, str]
    ) -> list[str]:
        actions: list[str] = []
        remote = kill_argv(self.spec, driver_id=reader.driver_id, app_id=reader.app_id)
        if remote is not None:
            actions.append(self._run_remote_kill(remote, env))
        elif self.spec.deploy_mode == "cluster":
            actions.append(
                f"no driver/application id seen yet for {self.spec.master!r}; check the cluster "
                "for a leftover application"
            )
        actions.append(kill_tree(proc, self.kill_grace_s))
        return actions

    def _run_remote_kill(self, argv: list[str], env: Mapping[str, str]) -> str:
        shown = format_argv(mask_argv(argv, self.spec.secrets))
        if argv[0] == "yarn" and shutil.which("yarn", path=env.get("PATH")) is None:
            return f"yarn CLI not found; kill the application by hand: {shown}"
        try:
            done = subprocess.run(
                argv, env=dict(env), capture_output=True, timeout=120, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"ran {shown}: failed ({type(exc).__name__}); kill the application by hand"
        return f"ran {shown}: exit code {done.returncode}"


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into an exception in the run loop, so the application is killed first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Interrupted("terminated by SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _failure_message(result: RunResult, reason: str, actions: list[str]) -> str:
    lines = [
        f"Spark application failed: {reason}",
        f"  app id: {result.app_id or 'unknown'}"
        + (f", driver id: {result.driver_id}" if result.driver_id else ""),
        f"  command: {result.command}",
    ]
    lines += [f"  action: {a}" for a in actions]
    if result.traceback:
        lines.append("  Python traceback of the script:")
        lines += [f"    {_clip(t)}" for t in result.traceback]
    shown = set(result.traceback)
    tail = [t for t in result.tail if t not in shown]
    lines.append(f"  last {len(tail)} other lines of output:")
    lines += [f"    {_clip(t)}" for t in tail]
    lines.append(
        "  fix: read the traceback/output above, correct the script or its settings, and rerun"
    )
    return "\n".join(lines)


def _clip(line: str, limit: int = 400) -> str:
    # Spark 4 logs some errors as one JSON line with a whole Java stack trace inside.
    return line if len(line) <= limit else line[:limit] + f"... ({len(line) - limit} more chars)"
