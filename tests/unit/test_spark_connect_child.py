"""Connect mode's script process, without a server: a fake session stands in for the remote one.

Real forked processes: what a script prints on any channel reaches the log masked, a timeout
kills a script however it blocks, the worker's death makes the script process end its session.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from luigi_ufo.errors import SparkConnectError
from luigi_ufo.spark.connect import runner as connect
from luigi_ufo.spark.connect.child import Child, describe_exit, fork_child
from luigi_ufo.spark.connect.runner import ConnectRunner, ConnectSpec
from luigi_ufo.spark.connect.sessions import SessionEnd
from luigi_ufo.spark.scripts import Script

URL = "sc://127.0.0.1:15002"


class FakeClient:
    """The part of SparkConnectClient that ending a session uses; its session runs nothing."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def _get_operation_statuses(self) -> Any:
        return type("Response", (), {"operation_statuses": []})()

    def interrupt_all(self) -> list[str]:
        with self.log.open("a") as out:
            out.write(f"interrupt_all {os.getpid()}\n")
        return []

    def release_session(self) -> None:
        with self.log.open("a") as out:
            out.write(f"release_session {os.getpid()}\n")

    def set_retry_policies(self, policies: Any) -> None:
        pass

    def close(self) -> None:
        pass


class FakeSession:
    version = "4.x (fake)"

    def __init__(self, log: Path) -> None:
        self.client = FakeClient(log)

    def addTag(self, tag: str) -> None:
        pass

    def registerProgressHandler(self, handler: Any) -> None:
        self.progress = handler


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sessions are fakes; the file lists what was asked of them (by any process)."""
    # The runner imports the Connect client before it forks (pyspark >= 4 legs only).
    pytest.importorskip("pyspark.sql.connect.session", reason="needs pyspark's Connect client")
    log = tmp_path / "calls.txt"
    log.touch()
    monkeypatch.setattr(connect, "_open_session", lambda spec, session_id: FakeSession(log))
    # The (fake) server's port is never open: a stopped run's session needs no ending there.
    monkeypatch.setattr(connect, "server_listens", lambda url, timeout_s=2.0: False)
    monkeypatch.setenv("LUIGI_UFO_RUNTIME_DIR", str(tmp_path / "run"))
    return log


def spec(tmp_path: Path, secrets: tuple[str, ...] = ()) -> ConnectSpec:
    script = Script(path=tmp_path / "job.py", sha256="0" * 64)
    return ConnectSpec(url=URL, script=script, name="Job_2026", secrets=secrets)


def test_the_body_runs_in_another_process_and_its_value_comes_back(
    calls: Path, tmp_path: Path
) -> None:
    runner = ConnectRunner(spec(tmp_path))
    assert runner.run(lambda session: (os.getpid(), session.version)) == (
        runner.pid,
        "4.x (fake)",
    )
    assert runner.pid != os.getpid()
    # It ended its own session on the way out: interrupt, then release.
    assert [line.split()[0] for line in calls.read_text().splitlines()] == [
        "interrupt_all",
        "release_session",
    ]


def test_every_channel_of_the_script_reaches_the_log_masked(
    calls: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Issue 22: stderr, logging and warnings of a Connect script reached the console unmasked."""
    canary = "CANARYPGPW42"

    def body(session: Any) -> int:
        import sys

        print(f"via-stdout {canary}")
        print(f"via-stderr {canary}", file=sys.stderr)
        logging.getLogger("myjob").warning("via-logging dsn=postgresql://u:%s@db/x", canary)
        warnings.warn(f"via-warnings {canary}", stacklevel=1)
        os.write(2, f"via-fd2 {canary}\n".encode())
        raise ValueError(f"via-traceback {canary}")

    # The worker's own logging and warnings (pytest's: warnings are errors) are not the child's.
    runner = ConnectRunner(spec(tmp_path, secrets=(canary,)))
    with (
        caplog.at_level(logging.INFO, logger="luigi_ufo.spark"),
        pytest.raises(SparkConnectError) as info,
    ):
        runner.run(body)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    printed = capfd.readouterr()
    for channel in ("stdout", "stderr", "logging", "warnings", "fd2", "traceback"):
        assert f"via-{channel}" in logged, (channel, logged)
    assert "job.py: via-logging dsn=postgresql://u:***@db/x" in logged
    assert "UserWarning: via-warnings ***" in logged
    assert "ValueError: via-traceback ***" in str(info.value)
    for text in (logged, printed.out, printed.err, str(info.value)):
        assert canary not in text


def test_a_timeout_kills_a_script_asleep_in_c_that_ignores_sigterm(
    calls: Path, tmp_path: Path
) -> None:
    def body(session: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            try:
                time.sleep(3600)
            except BaseException:  # noqa: S112
                continue

    runner = ConnectRunner(spec(tmp_path), timeout=1.0, kill_grace_s=0.5)
    started = time.monotonic()
    with pytest.raises(SparkConnectError) as info:
        runner.run(body)
    message = str(info.value)
    assert "timed out after 1 s" in message
    assert f"stopped the script's process (pid {runner.pid}): killed by SIGKILL" in message
    assert time.monotonic() - started < 20
    with pytest.raises(ProcessLookupError):
        os.killpg(runner.pid or 0, 0)  # its whole process group is gone


def test_a_failing_progress_callback_neither_fails_nor_stops_the_run(
    calls: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As in submit mode: the reports go through the shared Reporter (luigid gone: logged)."""

    def body(session: Any) -> int:
        session.progress(stages=[], inflight_tasks=0, operation_id="op", done=True)
        return 7

    def unreachable(value: int) -> None:
        raise ConnectionError("luigid is gone")

    runner = ConnectRunner(spec(tmp_path), on_percent=unreachable, kill_grace_s=0.5)
    with caplog.at_level(logging.WARNING, logger="luigi_ufo.spark"):
        assert runner.run(body) == 7
    assert "could not report the progress to the Luigi scheduler" in caplog.text
    assert "luigid is gone" in caplog.text


def test_a_hanging_progress_callback_does_not_hold_up_the_timeout(
    calls: Path, tmp_path: Path
) -> None:
    release = threading.Event()

    def body(session: Any) -> None:
        session.progress(stages=[], inflight_tasks=0, operation_id="op", done=False)
        time.sleep(3600)

    runner = ConnectRunner(
        spec(tmp_path), timeout=2.0, kill_grace_s=0.5, on_status=lambda m: release.wait()
    )
    started = time.monotonic()
    try:
        with pytest.raises(SparkConnectError, match="timed out after 2 s"):
            runner.run(body)
        assert time.monotonic() - started < 20
    finally:
        release.set()
    with pytest.raises(ProcessLookupError):
        os.killpg(runner.pid or 0, 0)


def test_a_script_that_exits_the_process_is_named(calls: Path, tmp_path: Path) -> None:
    runner = ConnectRunner(spec(tmp_path))
    with pytest.raises(SparkConnectError, match=r"process exited with code 3 without a result"):
        runner.run(lambda session: os._exit(3))


def test_the_run_leaves_no_lease_file_nor_session_record(calls: Path, tmp_path: Path) -> None:
    runner = ConnectRunner(spec(tmp_path), leases=[str(tmp_path / "out" / "2026-11-24")])
    assert runner.run(lambda session: 7) == 7
    assert list((tmp_path / "run").iterdir()) == []


def test_before_write_runs_after_the_leases_are_taken(calls: Path, tmp_path: Path) -> None:
    seen: list[list[str]] = []
    out = str(tmp_path / "out" / "2026-11-24")
    runner = ConnectRunner(
        spec(tmp_path),
        leases=[out],
        before_write=lambda: seen.append(sorted(p.name for p in (tmp_path / "run").iterdir())),
    )
    runner.run(lambda session: None)
    [names] = seen
    assert [n.split("-")[0] for n in names] == ["lease"]  # held, no session recorded yet


def test_the_child_has_a_fresh_interpreter_s_logging_and_warnings(tmp_path: Path) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root = logging.getLogger()
    handler = Keep()
    root.addHandler(handler)
    try:

        def target(send: Any, lifeline: Any) -> None:
            logging.getLogger("myjob").warning("one warning")
            logging.getLogger("myjob").info("no info at the default level")
            warnings.warn("shown, not raised", stacklevel=1)
            send("done", [len(logging.getLogger().handlers), os.getpgrp() == os.getpid()])

        child = fork_child(target)
        kind, payload = child.messages.recv()
        child.wait()
        output = os.read(child.output, 65536).decode()
        child.close()
    finally:
        root.removeHandler(handler)
    assert (kind, payload) == ("done", [0, True])
    assert "one warning" in output
    assert "no info" not in output
    assert "UserWarning: shown, not raised" in output
    assert seen == []  # nothing reached the worker's handlers
    assert describe_exit(child.status) == "exited with code 0"


def test_the_worker_s_death_makes_the_child_end_its_work_and_its_group(tmp_path: Path) -> None:
    marker = tmp_path / "ended"

    def target(send: Any, lifeline: Any) -> None:
        lifeline.on_death = marker.touch
        send("ready")
        time.sleep(3600)

    child: Child = fork_child(target)
    assert child.messages.recv() == ("ready", None)
    child.close()  # as the worker's death closes its end of the lifeline
    assert child.wait() == -signal.SIGKILL
    assert marker.exists()


def test_describe_exit() -> None:
    assert describe_exit(None) == "still running"
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(-9) == "killed by SIGKILL"


def test_a_session_end_says_what_it_did() -> None:
    assert SessionEnd().describe() == "no operation"
    assert SessionEnd(found=("a",)).describe() == "1 operation(s), none running"
    ended = SessionEnd(found=("a", "b"), interrupted=("b",), note="released")
    assert ended.describe() == "released; interrupted 1 operation(s) ['b']"


def test_a_session_left_on_a_partition_is_ended_before_anything_is_written(
    calls: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from luigi_ufo.spark.connect.sessions import SessionRecord, record_path, write_records

    out = str(tmp_path / "out" / "2026-11-24")
    left = SessionRecord("sc://127.0.0.1:15002", "dead-run-session", "4242-1")
    write_records([out], left)
    ended: list[str] = []

    def end_session(url: str, session_id: str) -> SessionEnd:
        # Runs in a child process: report through a file.
        with calls.open("a") as log:
            log.write(f"end_session {url} {session_id}\n")
        return SessionEnd(found=("op",), interrupted=("op",), settle_s=0.0)

    monkeypatch.setattr(connect, "end_session", end_session)
    monkeypatch.setattr(connect, "server_listens", lambda url, timeout_s=2.0: True)
    runner = ConnectRunner(
        spec(tmp_path),
        leases=[out],
        before_write=lambda: ended.append(calls.read_text()),
    )
    with caplog.at_level(logging.WARNING, logger="luigi_ufo.spark"):
        assert runner.run(lambda session: "written") == "written"
    # Ended (in a process of its own) before the flags went and before the script ran.
    assert ended == ["end_session sc://127.0.0.1:15002 dead-run-session\n"]
    assert "were being written by Spark Connect session dead-run-session" in caplog.text
    assert "ended session dead-run-session: interrupted 1 operation(s) ['op']" in caplog.text
    assert not record_path(out).exists()


def test_a_left_session_that_cannot_be_ended_stops_the_run_before_it_writes(
    calls: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from luigi_ufo.spark.connect.sessions import SessionRecord, record_path, write_records

    out = str(tmp_path / "out" / "2026-11-24")
    write_records([out], SessionRecord("sc://10.9.9.9:15002", "dead-run-session", "4242-1"))

    def unreachable(url: str, session_id: str) -> SessionEnd:
        raise ConnectionError("UNAVAILABLE: failed to connect to all addresses")

    monkeypatch.setattr(connect, "end_session", unreachable)
    monkeypatch.setattr(connect, "server_listens", lambda url, timeout_s=2.0: None)
    wrote: list[bool] = []
    runner = ConnectRunner(spec(tmp_path), leases=[out], before_write=lambda: wrote.append(True))
    with pytest.raises(SparkConnectError) as info:
        runner.run(lambda session: wrote.append(True))
    message = str(info.value)
    assert "may still be written by Spark Connect session dead-run-session" in message
    assert "ConnectionError: UNAVAILABLE: failed to connect to all addresses" in message
    assert str(record_path(out)) in message  # what to delete once the server is known gone
    assert wrote == []
    assert record_path(out).exists()
