"""Run an external script's ``main(argv, spark)`` against a Spark Connect server.

The script file is read and executed afresh at every run (a new module object each time, never
taken from a cache), so an edit applies at the next run while the server keeps running. Its
Python runs in a child process forked from the worker (:mod:`.connect_child`): a timeout, SIGTERM
or a failing callback kills it however it blocks, and everything it prints (stdout, stderr,
logging, warnings, tracebacks) reaches the log line by line, masked, as a submitted script's
output does. Each run opens its own remote session under an id it chose and recorded beside its
partitions' leases (:mod:`.connect_sessions`); the run ends by ending that session: every
operation interrupted and finished on the server, the session released. A run that dies before
that leaves the record, and the next run of those partitions ends the session before it writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from luigi_ufo import _pgroup
from luigi_ufo.dated.paths import local_path
from luigi_ufo.errors import ConfigError, SparkConnectError
from luigi_ufo.spark.command import mask
from luigi_ufo.spark.connect_child import Child, Lifeline, Sender, describe_exit, fork_child
from luigi_ufo.spark.connect_guard import check_connect_script
from luigi_ufo.spark.connect_sessions import (
    END_RETRY,
    RUN_RETRY,
    SessionEnd,
    SessionRecord,
    bound_retries,
    end_client_session,
    end_session,
    is_loopback,
    read_records,
    record_path,
    remove_records,
    server_address,
    server_listens,
    session_url,
    write_records,
)
from luigi_ufo.spark.lease import partition_leases, release_unused
from luigi_ufo.spark.progress import StageProgress, percent
from luigi_ufo.spark.runner import RunResult, _Interrupted, _OutputReader, _sigterm_interrupts
from luigi_ufo.spark.runtime import owner_tag
from luigi_ufo.spark.scripts import Script
from luigi_ufo.spark.settings import SECTION, SparkSettings

logger = logging.getLogger("luigi_ufo.spark")

T = TypeVar("T")
MIN_PYSPARK = (4, 0)
#: Runtime settings every session gets (a run's own ``spark.sql.*`` conf is added).
SESSION_CONF = {"spark.connect.progress.reportInterval": "1s"}
_PROGRESS_MIN_INTERVAL_S = 0.5
_TRACEBACK_MAX = 80
_POLL_S = 0.2
#: After the script process exited, how long its output may still arrive (a grandchild may
#: hold the pipe open).
_DRAIN_S = 5.0
#: Upper bound of ending a session from a separate process (its RPCs retry for ~2 s each).
END_CHILD_S = 20.0
#: Imported by the worker before it forks a script process (see preload_client).
PRELOADED = (
    "pyspark.sql.connect.session",
    "pyspark.sql.connect.client.retries",
    "grpc._channel",
    "pyarrow.pandas_compat",
)
# Defaults of the keyword arguments: the one declaration of each, in [spark_script].
_DEFAULTS = SparkSettings()


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


def server_argv(argv: Sequence[str], uris: Sequence[str], url: str) -> list[str]:
    """Return ``argv`` with every local path among ``uris`` made absolute for the server.

    The server resolves a relative path against its own working directory, not the worker's:
    each argument equal to a local path of ``uris`` (the task's inputs and outputs) becomes the
    absolute path on this host. A server on another host cannot see this host's files, so a
    plain local path is refused there (a ``file:`` URI is taken as a path both hosts mount).
    """
    here = server_is_here(url)
    mapping: dict[str, str] = {}
    for uri in uris:
        path = local_path(uri)
        if path is None:
            continue
        if not here and not uri.lower().startswith("file:"):
            raise ConfigError(
                f"{uri!r} is a path on this host, but the Spark Connect server {url} runs on "
                "another host and cannot read it; fix: use a location that server can read "
                "(s3://..., hdfs://...), a file:///... URI if the path is on a file system "
                f"mounted at the same place on both hosts, or set [{SECTION}] mode = submit"
            )
        if not os.path.isabs(path):
            mapping[uri] = os.path.abspath(path)
    return [mapping.get(arg, arg) for arg in argv]


def server_is_here(url: str) -> bool:
    """Whether the server of ``url`` runs on this host (loopback, or this host's own name)."""
    host, _ = server_address(url)
    return is_loopback(url) or host in {socket.gethostname(), socket.getfqdn()}


def preload_client() -> None:
    """Import pyspark's Connect client in the worker once (no channel), so children start fast.

    Also what a first session imports lazily: each child would import it again.
    """
    for name in PRELOADED:
        importlib.import_module(name)


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


@dataclass
class _Outcome:
    """What the script process reported."""

    version: str = ""
    value: Any = None
    returned: bool = False
    failure: dict[str, Any] | None = None
    ended: SessionEnd | None = None
    not_ended: str = ""


class ConnectRunner:
    """Run one :class:`ConnectSpec` in a fresh remote session, in a child process.

    ``leases`` are the partitions (output URIs) the run writes: no other live run writes them
    meanwhile, and a session a dead run left on them is ended first. ``before_write`` runs once
    that is done, before the script (the task removes its outputs' flags there).
    """

    def __init__(
        self,
        spec: ConnectSpec,
        *,
        timeout: float | None = None,
        on_percent: Callable[[int], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        leases: Sequence[str] = (),
        lease_timeout_s: float = _DEFAULTS.lease_timeout,
        kill_grace_s: float = _DEFAULTS.kill_grace,
        tail_lines: int = _DEFAULTS.tail_lines,
        before_write: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self.timeout = timeout
        self.on_percent = on_percent
        self.on_status = on_status
        self.leases = tuple(leases)
        self.lease_timeout_s = lease_timeout_s
        self.kill_grace_s = kill_grace_s
        self.tail_lines = tail_lines
        self.before_write = before_write
        #: Operations interrupted on the server by this run's last stop.
        self.interrupted: list[str] = []
        #: The tag of every operation of the current run.
        self.tag = ""
        #: Pid of the script process of the current run (its process group).
        self.pid: int | None = None
        self._status: int | None = None

    def run_script(self, argv: Sequence[str]) -> RunResult:
        """Load the script afresh, call ``main(argv, spark=session)``; raise unless it returns 0."""
        check_connect_script(self.spec.script.path)
        path = self.spec.script.path

        def body(spark: Any) -> int:
            with fresh_module(path) as module:
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

    def run_batch(self, runs: Sequence[Mapping[str, Any]]) -> RunResult:
        """Do every run in one session; raise naming every failed run.

        ``runs`` are SparkBackfill's ``{"label": ..., "argv": [...]}``: the script's optional
        ``main_batch(runs, spark)`` first, then ``main(argv, spark)`` per run left; a failing run
        does not stop the others (as in the submitted batch driver).
        """
        from luigi_ufo.spark.batch_main import SHOWN_FAILURES, run_all

        check_connect_script(self.spec.script.path)
        path = self.spec.script.path
        entries = [dict(r) for r in runs]

        def body(spark: Any) -> dict[str, str]:
            with fresh_module(path) as module:
                batch = getattr(module, "main_batch", None)
                return run_all(module.main, entries, spark, lambda: True, batch)

        started = time.monotonic()
        failed = self.run(body)
        if failed:
            shown = list(failed.items())[:SHOWN_FAILURES]
            frames = [f"{label} failed: {reason}" for label, reason in shown]
            reason = f"{len(failed)} of {len(runs)} run(s) failed"
            text = self._message(reason, [], []) + "\n" + "\n".join(frames)
            raise SparkConnectError(mask(text, self.spec.secrets))
        if self.on_percent is not None:
            self.on_percent(100)
        return RunResult(
            returncode=0, command=self._command(), duration_s=time.monotonic() - started
        )

    def run(self, body: Callable[[Any], T]) -> T:
        """Return ``body(session)``, called in a child process with a new session of its own.

        ``body`` runs after a fork (no pickling of it); what it returns must pickle.
        """
        require_connect_client()
        preload_client()
        try:
            with partition_leases(self.leases, timeout_s=self.lease_timeout_s):
                self._end_left_sessions()
                if self.before_write is not None:
                    self.before_write()
                return self._recorded_run(body)
        finally:
            release_unused(self.leases)

    def _recorded_run(self, body: Callable[[Any], T]) -> T:
        session_id = str(uuid.uuid4())
        self.tag = self.spec.tag
        write_records(self.leases, SessionRecord(self.spec.url, session_id, owner_tag()))
        ended: SessionEnd | None = None
        try:
            outcome = self._attend(body, session_id)
            ended = outcome.ended
            if outcome.failure is not None:
                raise SparkConnectError(self._failure(outcome))
            if not outcome.returned:
                reason = f"the script's process {describe_exit(self._status)} without a result"
                raise SparkConnectError(self._message(reason, self._end_actions(outcome), []))
            return outcome.value  # type: ignore[no-any-return]
        except _Stopped as stop:
            ended = stop.ended
            raise stop.error from None
        finally:
            if ended is not None:
                self._settle(ended)
                remove_records(self.leases)

    def _attend(self, body: Callable[[Any], T], session_id: str) -> _Outcome:
        """Fork the script process, relay its reports until it exits; stop it on interruption."""
        spec = self.spec
        tag = self.tag
        try:
            child = fork_child(
                lambda send, lifeline: _in_session(spec, session_id, tag, body, send, lifeline)
            )
        except OSError as exc:
            error = SparkConnectError(
                self._message(f"cannot start the script's process: {exc.strerror}", [], [])
            )
            raise _Stopped(error, SessionEnd(note="nothing started")) from None
        self.pid = child.pid
        reader = _OutputReader(child.output, spec.secrets, self.tail_lines, label=_label(spec))
        reader.start()
        outcome = _Outcome()
        try:
            with _sigterm_interrupts():
                self._wait(child, outcome)
        except (_Interrupted, KeyboardInterrupt) as exc:
            reason = exc.reason if isinstance(exc, _Interrupted) else "interrupted (SIGINT)"
            actions, ended = self._stop(child, session_id)
            raise _Stopped(SparkConnectError(self._message(reason, actions, [])), ended) from None
        except BaseException as exc:
            # A failing callback (luigid unreachable) stops the run: nothing may keep writing.
            _, ended = self._stop(child, session_id)
            raise _Stopped(exc, ended) from None
        finally:
            reader.join(timeout=_DRAIN_S)
            child.close()
            self._status = child.status
        if outcome.ended is None and outcome.version:
            # The script process could not end its session (server gone, process killed).
            outcome.not_ended = outcome.not_ended or describe_exit(child.status)
            outcome.ended = self._end_session(spec.url, session_id, outcome)
        elif not outcome.version:
            # No session was ever opened on the server: nothing runs there.
            outcome.ended = SessionEnd(note="no session was opened")
        return outcome

    def _wait(self, child: Child, outcome: _Outcome) -> None:
        started = time.monotonic()
        deadline = None if self.timeout is None else started + self.timeout
        closed = False
        exited: float | None = None
        while True:
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise _Interrupted(f"timed out after {self.timeout:g} s")
            wait = _POLL_S if deadline is None else max(0.0, min(_POLL_S, deadline - now))
            if not closed:
                if child.messages.poll(wait):
                    try:
                        kind, payload = child.messages.recv()
                    except (EOFError, OSError):
                        closed = True
                    else:
                        self._handle(kind, payload, outcome)
                    continue
            else:
                # The child closed its end: it is exiting now.
                select.select([], [], [], min(wait, 0.001))
            if child.poll() is not None:
                exited = exited or time.monotonic()
                if closed or time.monotonic() - exited > _DRAIN_S:
                    _pgroup.signal_group(child.pid, signal.SIGKILL)  # its leftovers
                    return

    def _handle(self, kind: str, payload: Any, outcome: _Outcome) -> None:
        if kind == "open":
            outcome.version = str(payload)
            logger.info("%s: Spark Connect %s at %s", self.spec.name, payload, self.spec.url)
        elif kind == "progress":
            value, message = payload
            if self.on_percent is not None:
                self.on_percent(int(value))
            if self.on_status is not None:
                self.on_status(str(message))
        elif kind == "result":
            outcome.value, outcome.returned = payload, True
        elif kind == "failed":
            outcome.failure = dict(payload)
        elif kind == "ended":
            outcome.ended = payload
        elif kind == "not_ended":
            outcome.not_ended = str(payload)

    def _stop(self, child: Child, session_id: str) -> tuple[list[str], SessionEnd | None]:
        """Kill the script process, then end its session on the server; say what was done."""
        _pgroup.stop_group(child.pid, self.kill_grace_s)
        status = child.wait()
        actions = [f"stopped the script's process (pid {child.pid}): {describe_exit(status)}"]
        outcome = _Outcome(version="?", not_ended="the run was stopped")
        ended = self._end_session(self.spec.url, session_id, outcome)
        actions += self._end_actions(outcome, ended)
        return actions, ended

    def _end_session(self, url: str, session_id: str, outcome: _Outcome) -> SessionEnd | None:
        """End session ``session_id`` from a separate process; None (reason in outcome) if not."""
        if server_listens(url) is False and is_loopback(url):
            # Nobody listens on this host's port: the server that ran the session is gone.
            return SessionEnd(note=f"the server at {url} is gone (connection refused)")
        ended, error = _call_in_child(
            lambda: end_session(url, session_id), END_CHILD_S, self.spec.secrets
        )
        if isinstance(ended, SessionEnd):
            self.interrupted += list(ended.interrupted)
            return ended
        outcome.not_ended = error
        return None

    def _end_left_sessions(self) -> None:
        """End every session a dead run left on our partitions; raise if one cannot be ended."""
        for record, keys in read_records(self.leases).items():
            logger.warning(
                "%s: partition(s) %s were being written by Spark Connect session %s at %s of a "
                "run that died (worker %s); ending it before writing",
                self.spec.name,
                ", ".join(keys),
                record.session_id,
                record.url,
                record.owner,
            )
            outcome = _Outcome()
            ended = self._end_session(record.url, record.session_id, outcome)
            if ended is None:
                raise SparkConnectError(
                    f"{self.spec.name}: partition(s) {keys!r} may still be written by Spark "
                    f"Connect session {record.session_id} at {record.url}, left by a run that "
                    f"died (worker {record.owner}); it could not be ended: {outcome.not_ended}\n"
                    "  fix: check that server (`luigi-ufo connect status`) and rerun; once the "
                    "server has been restarted or the session has ended, delete "
                    f"{', '.join(str(record_path(k)) for k in keys)} if it stays unreachable"
                )
            self._settle(ended)
            remove_records(keys)
            logger.warning(
                "%s: ended session %s: %s", self.spec.name, record.session_id, ended.describe()
            )

    def _settle(self, ended: SessionEnd) -> None:
        """Wait until the killed tasks of failed or cancelled operations can write no more."""
        if ended.settle_s > 0:
            logger.info(
                "%s: waiting %g s for Spark to kill the tasks of failed or cancelled operations "
                "before the partitions are free",
                self.spec.name,
                ended.settle_s,
            )
            time.sleep(ended.settle_s)

    def _end_actions(self, outcome: _Outcome, ended: SessionEnd | None = None) -> list[str]:
        ended = ended or outcome.ended
        if ended is not None:
            return [f"ended the run's session (tag {self.tag!r}) on the server: {ended.describe()}"]
        return [
            f"could not end the run's session on the server ({outcome.not_ended}); the next run "
            "of these outputs ends it before writing"
        ]

    def _failure(self, outcome: _Outcome) -> str:
        failure = outcome.failure or {}
        if failure.get("opening"):
            return str(
                mask(
                    f"cannot open a session on the Spark Connect server {self.spec.url!r}: "
                    f"{failure.get('error', '')}\n"
                    "  fix: start one with `luigi-ufo connect start` (or check the server), or "
                    f"set [{SECTION}] connect_url to a running server",
                    self.spec.secrets,
                )
            )
        reason = str(failure.get("reason", "the script failed"))
        actions = self._end_actions(outcome) if outcome.not_ended else []
        return self._message(reason, actions, list(failure.get("frames", [])))

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
            lines += [f"    {_clip(f)}" for f in frames]
        lines.append(
            "  fix: read the traceback above, correct the script or its settings, and rerun"
        )
        return mask("\n".join(lines), self.spec.secrets)


class _Stopped(Exception):
    """The run was stopped; ``error`` is what to raise, ``ended`` how its session ended."""

    def __init__(self, error: BaseException, ended: SessionEnd | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.ended = ended


def _label(spec: ConnectSpec) -> str:
    return spec.script.path.name


def _call_in_child(
    fn: Callable[[], Any], timeout_s: float, secrets: Sequence[str]
) -> tuple[Any, str]:
    """Return ``(fn(), "")`` computed in a child process, or ``(None, why not)``."""

    def target(send: Sender, lifeline: Lifeline) -> None:
        try:
            send("result", fn())
        except Exception as exc:
            send("error", _first_line(exc, ()))

    child = fork_child(target)
    reader = _OutputReader(child.output, tuple(secrets), 20, label="spark-connect")
    reader.start()
    try:
        if child.messages.poll(timeout_s):
            with contextlib.suppress(EOFError, OSError):
                kind, payload = child.messages.recv()
                if kind == "result":
                    return payload, ""
                return None, mask(str(payload), secrets)
            return None, f"its process {describe_exit(child.wait())}"
        return None, f"no answer from the server within {timeout_s:g} s"
    finally:
        _pgroup.signal_group(child.pid, signal.SIGKILL)
        child.wait()
        reader.join(timeout=_DRAIN_S)
        child.close()


# --- in the script's process ----------------------------------------------------------------


def _in_session(
    spec: ConnectSpec,
    session_id: str,
    tag: str,
    body: Callable[[Any], Any],
    send: Sender,
    lifeline: Lifeline,
) -> None:
    """Open the run's session, call ``body(session)``, report, end the session (child side)."""
    try:
        session = _open_session(spec, session_id)
    except Exception as exc:
        send("failed", {"opening": True, "error": _first_line(exc, ())})
        return
    send("open", session.version)
    lifeline.on_death = lambda: end_client_session(session.client, wait_s=5.0, own=True)
    try:
        session.addTag(tag)
        session.registerProgressHandler(_Progress(send))
        value = body(session)
    except BaseException as exc:
        frames = _frames(exc)
        # On stderr too, so the log shows it where a submitted script's traceback shows.
        print("\n".join(frames), file=sys.stderr, flush=True)
        send("failed", {"reason": f"the script raised {type(exc).__name__}", "frames": frames})
    else:
        send("result", value)
    try:
        bound_retries(session.client, END_RETRY)  # the server may be what failed
        send("ended", end_client_session(session.client, own=True))
    except Exception as exc:
        send("not_ended", _first_line(exc, ()))
    # No client.close(): it waits for pending ReleaseExecute calls, moot once the session is
    # released; the process exits now and its connections close with it.


def _open_session(spec: ConnectSpec, session_id: str) -> Any:
    from pyspark.sql import SparkSession
    from pyspark.sql.connect import proto

    # No options at create(): they would be set before the retries are bounded.
    session = SparkSession.builder.remote(session_url(spec.url, session_id)).create()
    bound_retries(session.client, RUN_RETRY)
    # All in one request, as create() sets its options (silent: a static setting is ignored).
    pairs = [proto.KeyValue(key=k, value=str(v)) for k, v in {**SESSION_CONF, **spec.conf}.items()]
    session.client.config(
        proto.ConfigRequest.Operation(set=proto.ConfigRequest.Set(pairs=pairs, silent=True))
    )
    return session


class _Progress:
    """A Connect progress handler sending percent and a status line to the worker, throttled."""

    def __init__(self, send: Sender) -> None:
        self.send = send
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
        self.send("progress", (value, message))


def _frames(exc: BaseException) -> list[str]:
    """The traceback as lines, chained exceptions included, without the server's JVM frames.

    The frames of this module (which called the script) are left out: the script's come first.
    """
    shown = traceback.TracebackException.from_exception(exc)
    shown.stack = traceback.StackSummary.from_list(
        [frame for frame in shown.stack if frame.filename != __file__]
    )
    text = "".join(shown.format())
    lines = [line for line in text.rstrip("\n").splitlines() if not line.startswith("\tat ")]
    # The last lines name the exception that ended the run; keep them if it is long.
    return lines[-_TRACEBACK_MAX:]


def _first_line(exc: BaseException, secrets: Sequence[str]) -> str:
    text = str(exc).strip().splitlines()
    return mask(f"{type(exc).__name__}: {text[0] if text else ''}", secrets)


def _clip(line: str, limit: int = 400) -> str:
    return line if len(line) <= limit else line[:limit] + f"... ({len(line) - limit} more chars)"
