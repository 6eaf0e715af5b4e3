"""Run an external script's ``main(argv, spark)`` against a Spark Connect server.

The script file is read and executed afresh at every run (a new module object each time, never
taken from a cache), so an edit applies at the next run while the server keeps running. Each run
gets its own remote session, released at the end, so nothing leaks between two tasks sharing a
server. Every operation of a run carries one tag: a timeout, SIGTERM or a failing callback
interrupts the tagged operations on the server, not just the client's wait.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.util
import io
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from luigi_ufo.errors import ConfigError, SparkConnectError
from luigi_ufo.spark.command import mask
from luigi_ufo.spark.connect_guard import check_connect_script
from luigi_ufo.spark.connect_settings import url_with_token
from luigi_ufo.spark.progress import StageProgress, percent
from luigi_ufo.spark.runner import RunResult, _Interrupted, _sigterm_interrupts
from luigi_ufo.spark.scripts import Script
from luigi_ufo.spark.settings import SECTION

logger = logging.getLogger("luigi_ufo.spark")

T = TypeVar("T")
MIN_PYSPARK = (4, 0)
CONNECT_MODE_ENV = "SPARK_CONNECT_MODE_ENABLED"
#: Runtime settings every session gets (a run's own ``spark.sql.*`` conf is added).
SESSION_CONF = {"spark.connect.progress.reportInterval": "1s"}
_PROGRESS_MIN_INTERVAL_S = 0.5
_REINTERRUPT_S = 1.0
_TRACEBACK_MAX = 80


def session_conf(conf: Mapping[str, str]) -> dict[str, str]:
    """The part of a task's Spark conf a Connect session can take: ``spark.sql.*`` settings.

    Everything else (memory, UI, JVM options, jars) is fixed when the server starts.
    """
    return {k: v for k, v in conf.items() if k.startswith("spark.sql.")}


def require_connect_client(version: str | None = None) -> None:
    """Raise ConfigError unless pyspark >= 4.0 and the Connect client's packages are installed."""
    if version is None:
        try:
            import pyspark
        except ImportError:
            raise ConfigError(
                f"[{SECTION}] mode = connect needs pyspark >= 4.0; pip install 'luigi-ufo[connect]'"
            ) from None
        version = str(pyspark.__version__)
    if _release(version) < MIN_PYSPARK:
        raise ConfigError(
            f"[{SECTION}] mode = connect needs pyspark >= 4.0, but pyspark {version} is "
            "installed: its wheel carries no Connect server (3.5 needs a spark-connect jar from "
            "Maven); pip install 'luigi-ufo[connect]' 'pyspark>=4,<5', or set mode = submit"
        )
    try:
        from pyspark.sql.connect.utils import check_dependencies

        check_dependencies()
    except ImportError as exc:
        raise ConfigError(
            f"[{SECTION}] mode = connect: the Spark Connect client lacks a package ({exc}); "
            "pip install 'luigi-ufo[connect]'"
        ) from None


def _release(version: str) -> tuple[int, int]:
    parts = [*version.split("."), "0", "0"][:2]
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except ValueError:
        return (0, 0)


@contextlib.contextmanager
def fresh_module(path: Path) -> Iterator[ModuleType]:
    """Execute the script file now as a new module; forget it afterwards.

    Its functions pickle by value, so Python UDFs reach the server without an import there.
    """
    from pyspark import cloudpickle

    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    name = f"luigi_ufo_connect_{stem}_{uuid.uuid4().hex[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {str(path)!r} as a Python module; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        # From the source, never a __pycache__ .pyc: an edit within the same second that keeps
        # the file's size would otherwise run the old bytecode.
        exec(compile(path.read_bytes(), str(path), "exec"), module.__dict__)  # noqa: S102
        if not callable(getattr(module, "main", None)):
            raise ConfigError(
                f"script {str(path)!r} has no main(argv, spark) function; Spark Connect mode "
                "calls main(argv, spark=session): define it as in the script contract"
            )
        cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]
        try:
            yield module
        finally:
            cloudpickle.unregister_pickle_by_value(module)  # type: ignore[no-untyped-call]
    finally:
        sys.modules.pop(name, None)


@dataclass(frozen=True)
class ConnectSpec:
    """One run against a server: where, what (already resolved), and what to hide."""

    url: str
    script: Script
    name: str
    conf: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        """A tag unique to this run (Spark tags allow no commas)."""
        digest = hashlib.sha1(self.name.encode("utf-8"), usedforsecurity=False).hexdigest()
        return f"luigi-ufo-{digest[:12]}-{uuid.uuid4().hex[:8]}"


class _Progress:
    """A Connect progress handler forwarding percent and a status line to Luigi, throttled."""

    def __init__(
        self,
        on_percent: Callable[[int], None] | None,
        on_status: Callable[[str], None] | None,
    ) -> None:
        self.on_percent = on_percent
        self.on_status = on_status
        self.error: BaseException | None = None
        self._last = -1
        self._sent = 0.0

    def __call__(
        self, *, stages: Any, inflight_tasks: int, operation_id: str | None, done: bool
    ) -> None:
        shown = [
            StageProgress(
                stage=s.stage_id, done=s.num_completed_tasks, running=0, total=s.num_tasks
            )
            for s in stages or ()
        ]
        value = percent(shown)
        now = time.monotonic()
        if value == self._last or (now - self._sent < _PROGRESS_MIN_INTERVAL_S and not done):
            return
        self._last, self._sent = value, now
        finished = sum(min(s.done, s.total) for s in shown)
        total = sum(s.total for s in shown)
        message = (
            f"Spark Connect operation {operation_id or '?'}: {len(shown)} stage(s), "
            f"{finished}/{total} tasks done, {inflight_tasks} running"
        )
        try:
            if self.on_percent is not None:
                self.on_percent(value)
            if self.on_status is not None:
                self.on_status(message)
        except Exception as exc:  # luigid unreachable: stop the run, as in submit mode
            self.error = exc
            raise


class ConnectRunner:
    """Run one :class:`ConnectSpec` in a fresh remote session, with timeout and interruption."""

    def __init__(
        self,
        spec: ConnectSpec,
        *,
        timeout: float | None = None,
        on_percent: Callable[[int], None] | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.timeout = timeout
        self.on_percent = on_percent
        self.on_status = on_status
        self.interrupted: list[str] = []

    def run_script(self, argv: Sequence[str]) -> RunResult:
        """Load the script afresh, call ``main(argv, spark=session)``; raise unless it returns 0."""
        check_connect_script(self.spec.script.path)

        def body(spark: Any) -> int:
            with fresh_module(self.spec.script.path) as module, _stdout_to_log(self.spec):
                code = module.main(list(argv), spark=spark)
            return 0 if code is None else int(code)

        started = time.monotonic()
        code = self.run(body)
        if code != 0:
            raise SparkConnectError(self._message(f"main() returned {code}", [], []))
        if self.on_percent is not None:
            self.on_percent(100)
        return RunResult(
            returncode=0, command=self._command(), duration_s=time.monotonic() - started
        )

    def run_batch(self, runs: Sequence[Mapping[str, Any]]) -> None:
        """Do every run in one session; raise naming every failed run.

        ``runs`` are SparkBackfill's ``{"label": ..., "argv": [...]}``: the script's optional
        ``main_batch(runs, spark)`` first, then ``main(argv, spark)`` per run left; a failing run
        does not stop the others (as in the submitted batch driver).
        """
        from luigi_ufo.spark.batch_main import SHOWN_FAILURES, run_all

        check_connect_script(self.spec.script.path)

        def body(spark: Any) -> dict[str, str]:
            with fresh_module(self.spec.script.path) as module, _stdout_to_log(self.spec):
                batch = getattr(module, "main_batch", None)
                return run_all(module.main, [dict(r) for r in runs], spark, lambda: True, batch)

        failed = self.run(body)
        if failed:
            shown = list(failed.items())[:SHOWN_FAILURES]
            frames = [f"{label} failed: {reason}" for label, reason in shown]
            reason = f"{len(failed)} of {len(runs)} run(s) failed"
            raise SparkConnectError(self._message(reason, [], []) + "\n" + "\n".join(frames))
        if self.on_percent is not None:
            self.on_percent(100)

    def run(self, body: Callable[[Any], T]) -> T:
        """Call ``body(session)`` in a new session tagged for this run; release it afterwards."""
        require_connect_client()
        with _connect_mode_env():
            return self._run(body)

    def _run(self, body: Callable[[Any], T]) -> T:
        session = self._session()
        tag = self.spec.tag
        progress = _Progress(self.on_percent, self.on_status)
        deadline = _Deadline(self.timeout, lambda: self._interrupt(session, tag))
        try:
            session.addTag(tag)
            session.registerProgressHandler(progress)
            deadline.start()
            with _sigterm_interrupts():
                try:
                    return body(session)
                finally:
                    deadline.cancel()
        except (_Interrupted, KeyboardInterrupt) as exc:
            reason = exc.reason if isinstance(exc, _Interrupted) else "interrupted (SIGINT)"
            actions = [self._interrupt(session, tag)]
            raise SparkConnectError(
                self._message(deadline.reason or reason, actions, _frames(exc))
            ) from None
        except Exception as exc:
            if progress.error is not None:
                # A failing callback stops the run; nothing may keep writing on the server.
                self._interrupt(session, tag)
                raise progress.error from None
            if deadline.reason:
                actions = [self._interrupt(session, tag)]
                raise SparkConnectError(
                    self._message(deadline.reason, actions, _frames(exc))
                ) from None
            reason = f"the script raised {type(exc).__name__}"
            raise SparkConnectError(self._message(reason, [], _frames(exc))) from None
        finally:
            deadline.cancel()
            # Releases the session on the server: its temp views and settings go with it.
            session.stop()

    def _session(self) -> Any:
        from pyspark.sql import SparkSession

        conf: dict[str, Any] = {**SESSION_CONF, **self.spec.conf}
        try:
            remote = url_with_token(self.spec.url)  # the token only here, never in spec.url
            session = SparkSession.builder.remote(remote).config(map=conf).create()
            version = session.version
        except Exception as exc:
            raise SparkConnectError(
                f"cannot open a session on the Spark Connect server {self.spec.url!r}: "
                f"{_first_line(exc, self.spec.secrets)}\n"
                "  fix: start one with `luigi-ufo connect start` (or check the server), or set "
                f"[{SECTION}] connect_url to a running server"
            ) from None
        logger.info("%s: Spark Connect %s at %s", self.spec.name, version, self.spec.url)
        return session

    def _interrupt(self, session: Any, tag: str) -> str:
        """Interrupt the run's operations on the server; say what was interrupted so far."""
        try:
            self.interrupted += list(session.interruptTag(tag))
        except Exception as exc:
            return f"could not interrupt tag {tag!r} on the server: {_first_line(exc, ())}"
        if not self.interrupted:
            return f"no operation with tag {tag!r} was running on the server"
        ops = self.interrupted
        return f"interrupted {len(ops)} operation(s) with tag {tag!r} on the server: {ops!r}"

    def _command(self) -> str:
        return f"main(argv, spark) of {self.spec.script.path} via {self.spec.url}"

    def _message(self, reason: str, actions: list[str], frames: list[str]) -> str:
        lines = [
            f"Spark Connect run of {self.spec.name} failed: {reason}",
            f"  script: {self.spec.script.path} (sha256 {self.spec.script.sha256[:12]})",
            f"  server: {self.spec.url}",
        ]
        lines += [f"  action: {a}" for a in actions]
        if frames:
            lines.append("  Python traceback of the script:")
            lines += [f"    {_clip(mask(f, self.spec.secrets))}" for f in frames]
        lines.append(
            "  fix: read the traceback above, correct the script or its settings, and rerun"
        )
        return "\n".join(lines)


class _LogLines(io.TextIOBase):
    """A text stream that logs each complete line (masked), as submit mode logs the child's."""

    def __init__(self, name: str, secrets: Sequence[str]) -> None:
        self._name = name
        self._secrets = tuple(secrets)
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            logger.info("%s: %s", self._name, mask(line, self._secrets))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            logger.info("%s: %s", self._name, mask(self._pending, self._secrets))
            self._pending = ""


@contextlib.contextmanager
def _stdout_to_log(spec: ConnectSpec) -> Iterator[None]:
    """Send what the script prints to the log: it runs in this process, whose stdout is not its.

    Under spark-submit a script's stdout is the child's, streamed into the log; here it would
    land in the worker's own stdout (and, say, break ``luigi-ufo run --json``).
    """
    lines = _LogLines(spec.script.path.name, spec.secrets)
    try:
        with contextlib.redirect_stdout(lines):
            yield
    finally:
        lines.flush()


def _frames(exc: BaseException) -> list[str]:
    """The traceback as lines, chained exceptions included, without the server's JVM frames."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    lines = [line for line in text.rstrip("\n").splitlines() if not line.startswith("\tat ")]
    # The last lines name the exception that ended the run; keep them if it is long.
    return lines[-_TRACEBACK_MAX:]


def _first_line(exc: BaseException, secrets: Sequence[str]) -> str:
    text = str(exc).strip().splitlines()
    return mask(f"{type(exc).__name__}: {text[0] if text else ''}", secrets)


def _clip(line: str, limit: int = 400) -> str:
    return line if len(line) <= limit else line[:limit] + f"... ({len(line) - limit} more chars)"


@contextlib.contextmanager
def _connect_mode_env() -> Iterator[None]:
    """Undo pyspark's process-wide Connect marker after the run.

    pyspark sets ``SPARK_CONNECT_MODE_ENABLED=1`` when a remote session is built (its functions
    dispatch on it); left set, a later spark-submit from this worker would inherit it and its
    script's classic ``getOrCreate()`` would fail with CONNECT_URL_NOT_SET.
    """
    previous = os.environ.get(CONNECT_MODE_ENV)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CONNECT_MODE_ENV, None)
        else:
            os.environ[CONNECT_MODE_ENV] = previous


class _Deadline:
    """After ``timeout`` s: interrupt on the server, then raise in the script's thread, repeatedly.

    The script's own thread is interrupted too, so a script busy in Python (or swallowing the
    server's cancellation) stops as well. :meth:`cancel` guarantees no exception arrives later.
    """

    def __init__(self, timeout: float | None, interrupt: Callable[[], str]) -> None:
        self.timeout = timeout
        self.interrupt = interrupt
        self.reason = ""
        self._target = threading.get_ident()
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.timeout is None:
            return
        self._thread = threading.Thread(target=self._watch, name="spark-connect-timeout")
        self._thread.daemon = True
        self._thread.start()

    def cancel(self) -> None:
        with self._lock:
            self._finished.set()
            if self.reason:
                # Drop an exception raised but not yet delivered to this thread.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._target), None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        assert self.timeout is not None
        if self._finished.wait(self.timeout):
            return
        self.reason = f"timed out after {self.timeout:g} s"
        while True:
            # Server first, so nothing keeps running there even if the script ignores us.
            logger.warning("Spark Connect run %s: %s", self.reason, self.interrupt())
            with self._lock:
                if self._finished.is_set():
                    return
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._target), ctypes.py_object(_Timeout)
                )
            if self._finished.wait(_REINTERRUPT_S):
                return


class _Timeout(_Interrupted):
    """Raised asynchronously in the script's thread (CPython instantiates it without arguments)."""

    def __init__(self, reason: str = "timed out") -> None:
        super().__init__(reason)
