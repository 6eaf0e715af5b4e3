"""Run an external script's ``main(argv, spark)`` against a Spark Connect server.

The script file is read and executed afresh at every run (:func:`~luigi_ufo.spark.driver.
loaded_script`), so an edit applies at the next run while the server keeps running. Its Python
runs in a child process forked from the worker (:mod:`.child`): a timeout, SIGTERM or Ctrl-C
kills it however it blocks, and everything it prints (stdout, stderr, logging, warnings,
tracebacks) reaches the log line by line, masked, as a submitted script's output does
(:mod:`luigi_ufo.spark.output`). Each run opens its own remote session under an id it chose and
recorded beside its partitions' leases (:mod:`.sessions`); the run ends by ending that session:
every operation interrupted and finished on the server, the session released. A run that dies
before that leaves the record, and the next run of those partitions ends the session before it
writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import select
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from luigi_ufo.errors import ConfigError, SparkConnectError
from luigi_ufo.secrets import mask
from luigi_ufo.services.process import ProcessRef, signal_group, stop_tree
from luigi_ufo.spark.connect.child import Child, Lifeline, Sender, describe_exit, fork_child
from luigi_ufo.spark.connect.guard import check_connect_script
from luigi_ufo.spark.connect.sessions import (
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
from luigi_ufo.spark.driver import SHOWN_FAILURES, loaded_script, run_all
from luigi_ufo.spark.output import OutputReader
from luigi_ufo.spark.progress import StageProgress, percent
from luigi_ufo.spark.reporting import Reporter
from luigi_ufo.spark.run import (
    Interrupted,
    Runner,
    RunResult,
    failure_message,
    first_line,
    interruptible,
    traceback_lines,
)
from luigi_ufo.spark.scripts import Script
from luigi_ufo.spark.settings import SECTION
from luigi_ufo.uris import local_path

logger = logging.getLogger("luigi_ufo.spark")

T = TypeVar("T")
MIN_PYSPARK = (4, 0)
#: Runtime settings every session gets (a run's own ``spark.sql.*`` conf is added).
SESSION_CONF = {"spark.connect.progress.reportInterval": "1s"}
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
    """One run against a server: where, what (already resolved), and what to hide.

    ``uris`` are the run's inputs and outputs: an argument equal to a local one is made absolute
    for the server (:func:`server_argv`).
    """

    url: str
    script: Script
    name: str
    conf: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    #: The task's ``script_files``, resolved with the script.
    script_files: tuple[Script, ...] = ()

    def check(self) -> None:
        """Refuse the script, or one of its files, if it uses what Spark Connect lacks."""
        for script in (self.script, *self.script_files):
            check_connect_script(script.path)

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


class ConnectRunner(Runner):
    """Run one :class:`ConnectSpec` in a fresh remote session, in a child process.

    The options are :class:`~luigi_ufo.spark.run.Runner`'s. A session a dead run left on the
    ``leases`` is ended before ``before_write`` runs (see :mod:`.sessions`).
    """

    mode = "connect"

    def __init__(self, spec: ConnectSpec, **options: Any) -> None:
        super().__init__(**options)
        self.spec = spec
        #: Operations interrupted on the server by this run's last stop.
        self.interrupted: list[str] = []
        #: The tag of every operation of the current run.
        self.tag = ""
        #: The last lines the script's process wrote (masked).
        self.tail: list[str] = []
        self._status: int | None = None
        self._reports: Reporter | None = None

    def run_script(self, argv: Sequence[str]) -> RunResult:
        """Load the script afresh, call ``main(argv, spark=session)``; raise unless it returns 0."""
        self.spec.check()
        path, files = self.spec.script.path, [f.path for f in self.spec.script_files]
        args = server_argv(argv, self.spec.uris, self.spec.url)

        def body(spark: Any) -> int:
            with loaded_script(path, files) as module:
                code = module.main(list(args), spark=spark)
            return 0 if code is None else int(code)

        def check(code: int) -> None:
            if code != 0:
                raise SparkConnectError(self._message(f"main() returned {code}"))

        return self._result(body, check)

    def run_batch(self, runs: Sequence[Mapping[str, Any]]) -> RunResult:
        """Do every run in one session (the submitted batch driver's loop, :mod:`..driver`)."""
        self.spec.check()
        path, files = self.spec.script.path, [f.path for f in self.spec.script_files]
        entries = [
            {**r, "argv": server_argv(r["argv"], self.spec.uris, self.spec.url)} for r in runs
        ]

        def body(spark: Any) -> dict[str, str]:
            with loaded_script(path, files) as module:
                batch = getattr(module, "main_batch", None)
                return run_all(module.main, entries, spark, lambda: True, batch)

        def check(failed: dict[str, str]) -> None:
            if failed:
                shown = list(failed.items())[:SHOWN_FAILURES]
                frames = [f"{label} failed: {reason}" for label, reason in shown]
                reason = f"{len(failed)} of {len(runs)} run(s) failed"
                text = self._message(reason) + "\n" + "\n".join(frames)
                raise SparkConnectError(mask(text, self.spec.secrets))

        return self._result(body, check)

    def run(self, body: Callable[[Any], T]) -> T:
        """Return ``body(session)``, called in a child process with a new session of its own.

        ``body`` runs after a fork (no pickling of it); what it returns must pickle.
        """
        return self._run(body, None)

    def _result(self, body: Callable[[Any], T], check: Callable[[T], None]) -> RunResult:
        started = time.monotonic()
        self._run(body, check)
        command = f"main(argv, spark) of {self.spec.script.path} via {self.spec.url}"
        duration = time.monotonic() - started
        return RunResult(returncode=0, command=command, duration_s=duration, mode=self.mode)

    def _run(self, body: Callable[[Any], T], check: Callable[[T], None] | None) -> T:
        require_connect_client()
        preload_client()
        with self.held() as (_, self._reports):
            self._end_left_sessions()
            if self.before_write is not None:
                self.before_write()
            value = self._recorded_run(body)
            if check is not None:
                check(value)
            self._reports.send("percent", 100)
            return value

    def _recorded_run(self, body: Callable[[Any], T]) -> T:
        session_id = str(uuid.uuid4())
        self.tag = self.spec.tag
        self.tail = []
        write_records(
            self.leases, SessionRecord(self.spec.url, session_id, ProcessRef.current().tag)
        )
        ended: SessionEnd | None = None
        try:
            outcome = self._attend(body, session_id)
            ended = outcome.ended
            if outcome.failure is not None:
                raise SparkConnectError(self._failure(outcome))
            if not outcome.returned:
                reason = f"the script's process {describe_exit(self._status)} without a result"
                raise SparkConnectError(self._message(reason, self._end_actions(outcome)))
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
                self._message(f"cannot start the script's process: {exc.strerror}")
            )
            raise _Stopped(error, SessionEnd(note="nothing started")) from None
        self.pid = child.pid
        reader = OutputReader(
            child.output,
            spec.secrets,
            self.tail_lines,
            spark_log_level=self.spark_log_level,
            label=spec.script.path.name,
        )
        reader.start()
        outcome = _Outcome()
        stopped: tuple[str, list[str], SessionEnd | None] | None = None
        try:
            with interruptible():
                self._wait(child, outcome)
        except Interrupted as stop:
            actions, ended = self._stop(child, session_id)
            stopped = (stop.reason, actions, ended)
        except BaseException as exc:
            # Whatever stops the worker's loop stops the run: nothing may keep writing.
            _, ended = self._stop(child, session_id)
            raise _Stopped(exc, ended) from None
        finally:
            reader.join(timeout=_DRAIN_S)
            child.close()
            self._status = child.status
            self.tail = list(reader.tail)
        if stopped is not None:
            reason, actions, ended = stopped
            raise _Stopped(SparkConnectError(self._message(reason, actions)), ended)
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
                raise Interrupted(f"timed out after {self.timeout:g} s")
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
                    signal_group(child.pid, signal.SIGKILL)  # its leftovers
                    return

    def _handle(self, kind: str, payload: Any, outcome: _Outcome) -> None:
        if kind == "open":
            outcome.version = str(payload)
            logger.info("%s: Spark Connect %s at %s", self.spec.name, payload, self.spec.url)
        elif kind == "progress" and self._reports is not None:
            value, message = payload
            # The reporter throttles: the scheduler gets the newest value, not every report.
            self._reports.send("percent", int(value))
            self._reports.send("status", str(message))
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
        stop_tree(child, self.kill_grace_s)
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
            return mask(
                f"cannot open a session on the Spark Connect server {self.spec.url!r}: "
                f"{failure.get('error', '')}\n"
                "  fix: start one with `luigi-ufo connect start` (or check the server), or "
                f"set [{SECTION}] connect_url to a running server",
                self.spec.secrets,
            )
        reason = str(failure.get("reason", "the script failed"))
        actions = self._end_actions(outcome) if outcome.not_ended else []
        return self._message(reason, actions, list(failure.get("frames", [])))

    def _message(self, reason: str, actions: Sequence[str] = (), frames: Sequence[str] = ()) -> str:
        script = self.spec.script
        return failure_message(
            f"Spark Connect run of {self.spec.name} failed: {reason}",
            [f"script: {script.path} (sha256 {script.sha256[:12]})", f"server: {self.spec.url}"],
            actions,
            frames,
            self.tail,
            self.spec.secrets,
        )


class _Stopped(Exception):
    """The run was stopped; ``error`` is what to raise, ``ended`` how its session ended."""

    def __init__(self, error: BaseException, ended: SessionEnd | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.ended = ended


def _call_in_child(
    fn: Callable[[], Any], timeout_s: float, secrets: Sequence[str]
) -> tuple[Any, str]:
    """Return ``(fn(), "")`` computed in a child process, or ``(None, why not)``."""

    def target(send: Sender, lifeline: Lifeline) -> None:
        try:
            send("result", fn())
        except Exception as exc:
            send("error", first_line(exc))

    child = fork_child(target)
    reader = OutputReader(child.output, tuple(secrets), 20, label="spark-connect")
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
        signal_group(child.pid, signal.SIGKILL)
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
        send("failed", {"opening": True, "error": first_line(exc)})
        return
    send("open", session.version)
    lifeline.on_death = lambda: end_client_session(session.client, wait_s=5.0, own=True)
    try:
        session.addTag(tag)
        session.registerProgressHandler(_progress_handler(send))
        value = body(session)
    except BaseException as exc:
        # The frames of this module (which called the script) left out: the script's come first.
        frames = traceback_lines(exc, hide=[__file__])
        # On stderr too, so the log shows it where a submitted script's traceback shows.
        print("\n".join(frames), file=sys.stderr, flush=True)
        send("failed", {"reason": f"the script raised {type(exc).__name__}", "frames": frames})
    else:
        send("result", value)
    try:
        bound_retries(session.client, END_RETRY)  # the server may be what failed
        send("ended", end_client_session(session.client, own=True))
    except Exception as exc:
        send("not_ended", first_line(exc))
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


def _progress_handler(send: Sender) -> Callable[..., None]:
    """A Connect progress handler sending percent and a status line to the worker."""

    def handle(*, stages: Any, inflight_tasks: int, operation_id: str | None, done: bool) -> None:
        shown = [
            StageProgress(
                stage=s.stage_id, done=s.num_completed_tasks, running=0, total=s.num_tasks
            )
            for s in stages or ()
        ]
        finished = sum(min(s.done, s.total) for s in shown)
        total = sum(s.total for s in shown)
        message = (
            f"Spark Connect operation {operation_id or '?'}: {len(shown)} stage(s), "
            f"{finished}/{total} tasks done, {inflight_tasks} running"
        )
        send("progress", (percent(shown), message))

    return handle
