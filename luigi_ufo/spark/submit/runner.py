"""Run ``spark-submit`` for a :class:`SubmitSpec`: live log lines, progress, timeout and kill.

No process of the application outlives a run: each carries the run's mark (``APP_ENV``), and
whatever is left when ``spark-submit`` (or its supervisor) ends is stopped before the run
returns or raises, and before its leases are released. The runner holds no reference to a
Luigi task: it takes plain callbacks, called from a thread of their own (``reporting``), so
nothing here needs pickling, a task using it works under every multiprocessing start method,
and a callback that fails or hangs never stops or fails the application.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from luigi_ufo.errors import SparkSubmitError
from luigi_ufo.spark.lease import HeldLeases
from luigi_ufo.spark.output import OutputReader
from luigi_ufo.spark.reporting import Reporter
from luigi_ufo.spark.run import (
    Interrupted,
    Runner,
    RunResult,
    failure_message,
    interruptible,
)
from luigi_ufo.spark.submit.launcher import driver_environment
from luigi_ufo.spark.submit.properties import private_properties_file
from luigi_ufo.spark.submit.spec import (
    SubmitSpec,
    build_argv,
    format_argv,
    kill_argv,
    mask_argv,
    validate,
)
from luigi_ufo.spark.submit.supervisor import APP_ENV, kill_tree, stop_marked

logger = logging.getLogger("luigi_ufo.spark")

_POLL_S = 0.2
_DRAIN_S = 10.0
SUPERVISOR = Path(__file__).with_name("supervisor.py")
#: The driver program of a batch (SparkBackfill): loads the script, runs every date of it.
BATCH_DRIVER = Path(__file__).parents[1] / "driver.py"


class SparkSubmitRunner(Runner):
    """Run a :class:`SubmitSpec` with ``spark-submit`` and report on it.

    :meth:`run` submits the spec as it is; :meth:`run_script` with other script arguments;
    :meth:`run_batch` submits the batch driver for the spec's script. The options are
    :class:`~luigi_ufo.spark.run.Runner`'s; ``base_env`` is the environment spark-submit starts
    from (default: this process's), ``cwd`` its working directory.
    """

    mode = "submit"

    def __init__(
        self,
        spec: SubmitSpec,
        *,
        base_env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.spec = spec
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.cwd = cwd
        self._lifeline: int | None = None
        self._armed: list[str] | None = None
        #: This run's mark (APP_ENV) on every process of the application.
        self._mark = uuid.uuid4().hex
        self._leftovers: list[int] = []

    def run(self) -> RunResult:
        """Run the spec to completion; raise SparkSubmitError unless spark-submit exits 0."""
        return self.submit(self.spec)

    def run_script(self, argv: Sequence[str]) -> RunResult:
        """Run the spec's script with ``argv``."""
        return self.submit(dataclasses.replace(self.spec, app_args=tuple(argv)))

    def run_batch(self, runs: Sequence[Mapping[str, Any]]) -> RunResult:
        """Submit the batch driver once for ``runs`` of the spec's script (see :mod:`..driver`)."""
        with tempfile.TemporaryDirectory(prefix="luigi-ufo-backfill-") as tmp:
            manifest = Path(tmp) / f"{Path(self.spec.app).stem}-manifest.json"
            # Written 0600 in a 0700 directory: the arguments may name private locations.
            fd = os.open(manifest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"runs": [dict(r) for r in runs]}, fh)
            files = [self.spec.app, str(manifest)]
            shipped: tuple[str, ...] = ()
            if self.spec.deploy_mode == "cluster":
                # The driver runs elsewhere: ship both files; the driver finds them by basename.
                shipped, files = tuple(files), [os.path.basename(f) for f in files]
            spec = dataclasses.replace(
                self.spec,
                app=str(BATCH_DRIVER),
                app_args=("--script", files[0], "--manifest", files[1]),
                files=(*self.spec.files, *shipped),
            )
            return self.submit(spec)

    def submit(self, spec: SubmitSpec) -> RunResult:
        """Run ``spec`` with this runner's options; raise SparkSubmitError unless it exits 0."""
        validate(spec)
        env = {**self.base_env, **{str(k): str(v) for k, v in spec.env.items()}}
        if shutil.which(spec.spark_submit, path=env.get("PATH")) is None:
            raise SparkSubmitError(
                f"cannot start spark-submit {spec.spark_submit!r}: not found or not "
                "executable; install pyspark or set [spark_script] spark_submit to an executable "
                "spark-submit"
            )
        with self.held() as (held, reporter):
            if self.before_write is not None:
                self.before_write()
            # The private properties file exists only while spark-submit runs (it reads it at
            # start, but a failed start must not leave it behind either).
            with private_properties_file(spec, env) as ready:
                written = ready.properties_file if spec.private_conf else None
                return self._run(spec, ready, env, held, [written] if written else [], reporter)

    def _run(
        self,
        spec: SubmitSpec,
        ready: SubmitSpec,
        env: dict[str, str],
        held: HeldLeases,
        remove: list[str],
        reporter: Reporter,
    ) -> RunResult:
        argv = build_argv(ready)
        command = format_argv(mask_argv(argv, spec.secrets))
        logger.info("running %s", command)
        started = time.monotonic()
        # Every process of the application carries the mark and the leases' tags: found after
        # reparenting, and counted as a holder of the leases while it lives.
        env = {**env, APP_ENV: self._mark, **held.environment()}
        client_python = spec.deploy_mode == "client" and spec.is_python
        env = driver_environment(env, spec.conf, client_mode=client_python)
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
        # The supervisor and spark-submit hold the leases too now; this process keeps its own
        # copies until no process of the application is left (the caller closes them).
        self.pid = proc.pid
        assert proc.stdout is not None
        reader = OutputReader(
            proc.stdout.fileno(),
            spec.secrets,
            self.tail_lines,
            spark_log_level=self.spark_log_level,
        )
        reader.start()
        return self._supervise(spec, proc, reader, reporter, env, command, started)

    def _supervise(
        self,
        spec: SubmitSpec,
        proc: subprocess.Popen[bytes],
        reader: OutputReader,
        reporter: Reporter,
        env: Mapping[str, str],
        command: str,
        started: float,
    ) -> RunResult:
        assert proc.stdout is not None
        try:
            with interruptible():
                self._wait(spec, proc, reader, reporter, started)
        except Interrupted as stop:
            actions = self._kill(spec, proc, reader, env)
            reader.join(timeout=10)
            proc.stdout.close()
            result = self._result(proc.returncode or -1, command, started, reader)
            raise SparkSubmitError(_failure(result, stop.reason, actions)) from None
        except BaseException:
            self._kill(spec, proc, reader, env)
            reader.join(timeout=10)
            proc.stdout.close()
            raise
        finally:
            self._close_lifeline()
        reader.join(timeout=10)
        proc.stdout.close()
        result = self._result(proc.returncode, command, started, reader)
        if result.returncode != 0:
            reason = self._exit_reason(spec, result.returncode, reader.killed)
            actions = [_stopped(self._leftovers)] if self._leftovers else []
            raise SparkSubmitError(_failure(result, reason, actions))
        reporter.send("percent", 100)
        return result

    def _wait(
        self,
        spec: SubmitSpec,
        proc: subprocess.Popen[bytes],
        reader: OutputReader,
        reporter: Reporter,
        started: float,
    ) -> None:
        deadline = None if self.timeout is None else started + self.timeout
        app_status = ""
        exited: float | None = None
        while True:
            try:
                kind, payload = reader.events.get(timeout=_POLL_S)
            except queue.Empty:
                kind, payload = "", ""
            if kind == "status":
                app_status = str(payload)
                self._arm_remote_kill(spec, reader)
                reporter.send("status", app_status)
            elif kind == "url":
                reporter.send("tracking_url", str(payload))
            elif kind == "progress" and isinstance(payload, tuple):
                value, stages = payload
                # The reporter throttles: the scheduler gets the newest value, not every frame.
                reporter.send("percent", value)
                reporter.send("status", "; ".join(filter(None, [app_status, stages])))
            if exited is None and proc.poll() is not None:
                exited = time.monotonic()
                # Whatever of the application outlived spark-submit (its driver, orphaned when
                # the supervisor or the JVM was killed) must not go on writing.
                self._leftovers = stop_marked(self._mark)
            # An orphaned grandchild may hold the pipe open; do not wait for it forever.
            drained = not reader.is_alive() or time.monotonic() - (exited or 0.0) > _DRAIN_S
            if exited is not None and reader.events.empty() and drained:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise Interrupted(f"timed out after {self.timeout:g} s")

    def _exit_reason(self, spec: SubmitSpec, code: int, killed: tuple[int, str] | None) -> str:
        """Say what ended the application: spark-submit's exit, or which process a signal killed."""
        client = spec.deploy_mode == "client"
        if killed is not None:
            pid, name = killed
            what = f"spark-submit (pid {pid}{', the driver JVM' if client else ''})"
            return f"{what} was killed by {name}{_OOM_HINT if name == 'SIGKILL' else ''}"
        if code < 0:
            return (
                f"the spark-submit supervisor (pid {self.pid}) was killed by "
                f"{_signal_name(-code)}; spark-submit and every process of the application were "
                "stopped with it"
            )
        if client and spec.is_python and code > 128 and _signal_name(code - 128):
            name = _signal_name(code - 128)
            return (
                f"spark-submit exited with code {code}: the driver's Python process was killed "
                f"by {name}{_OOM_HINT if name == 'SIGKILL' else ''}"
            )
        return f"spark-submit exited with code {code}"

    def _close_lifeline(self) -> None:
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    def _arm_remote_kill(self, spec: SubmitSpec, reader: OutputReader) -> None:
        """Tell the supervisor how to kill the application remotely, should this process die."""
        remote = kill_argv(spec, driver_id=reader.driver_id, app_id=reader.app_id)
        if remote is None or remote == self._armed or self._lifeline is None:
            return
        self._armed = remote
        with contextlib.suppress(OSError):
            os.write(self._lifeline, json.dumps({"kill": remote}).encode("utf-8") + b"\n")

    def _result(self, code: int, command: str, started: float, reader: OutputReader) -> RunResult:
        return RunResult(
            returncode=code,
            command=command,
            duration_s=time.monotonic() - started,
            app_id=reader.app_id,
            driver_id=reader.driver_id,
            tracking_url=reader.tracking_url,
            tail=list(reader.tail),
            traceback=list(reader.traceback),
            mode=self.mode,
        )

    def _kill(
        self,
        spec: SubmitSpec,
        proc: subprocess.Popen[bytes],
        reader: OutputReader,
        env: Mapping[str, str],
    ) -> list[str]:
        actions: list[str] = []
        remote = kill_argv(spec, driver_id=reader.driver_id, app_id=reader.app_id)
        if remote is not None:
            actions.append(self._run_remote_kill(spec, remote, env))
        elif spec.deploy_mode == "cluster":
            actions.append(
                f"no driver/application id seen yet for {spec.master!r}; check the cluster "
                "for a leftover application"
            )
        actions.append(kill_tree(proc, self.kill_grace_s, self._mark))
        # A process forked after the last look is caught here (the mark is inherited).
        leftovers = stop_marked(self._mark)
        if leftovers:
            actions.append(_stopped(leftovers))
        return actions

    def _run_remote_kill(self, spec: SubmitSpec, argv: list[str], env: Mapping[str, str]) -> str:
        shown = format_argv(mask_argv(argv, spec.secrets))
        if argv[0] == "yarn" and shutil.which("yarn", path=env.get("PATH")) is None:
            return f"yarn CLI not found; kill the application by hand: {shown}"
        try:
            done = subprocess.run(
                argv, env=dict(env), capture_output=True, timeout=120, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"ran {shown}: failed ({type(exc).__name__}); kill the application by hand"
        return f"ran {shown}: exit code {done.returncode}"


def _failure(result: RunResult, reason: str, actions: list[str]) -> str:
    ids = f"app id: {result.app_id or 'unknown'}"
    ids += f", driver id: {result.driver_id}" if result.driver_id else ""
    return failure_message(
        f"Spark application failed: {reason}",
        [ids, f"command: {result.command}"],
        actions,
        result.traceback,
        result.tail,
    )


_OOM_HINT = (
    " (what the kernel's out-of-memory killer sends: check the machine's free memory and "
    "driver_memory)"
)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return ""


def _stopped(pids: list[int]) -> str:
    return (
        f"stopped {len(pids)} process(es) of the application that outlived spark-submit, with "
        f"SIGKILL (pids {', '.join(map(str, pids))})"
    )
