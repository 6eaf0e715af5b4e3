"""SparkSubmitRunner against a stand-in spark-submit program (no Spark, no network).

The stand-in is a real executable run by the real runner: what it prints mimics spark-submit's
stderr (progress bars with carriage returns, log4j lines, a Python traceback). The real thing is
covered by tests/integration/test_spark_task.py.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from luigi_ufo.errors import LeaseError, SparkSubmitError
from luigi_ufo.spark.lease import partition_leases
from luigi_ufo.spark.submit.runner import SparkSubmitRunner
from luigi_ufo.spark.submit.spec import SubmitSpec

FAKE = r"""
import json, os, subprocess, sys, time
mode = os.environ["FAKE_MODE"]
err = sys.stderr
if mode == "progress":
    err.write("26/11/25 08:31:42 INFO StandaloneSchedulerBackend: Connected to Spark cluster "
              "with app ID app-20261125083142-0007\n")
    for done in range(0, 9, 2):
        err.write("\r[Stage 0:=====>     (%d + 2) / 8]\r" % done)
        err.flush()
        time.sleep(0.3)
    err.write("\r" + " " * 80 + "\r")
    print("argv", " ".join(sys.argv[1:]))
    sys.exit(0)
if mode == "fail":
    print("token is", os.environ.get("FAKE_SECRET"), flush=True)
    err.write("Traceback (most recent call last):\n")
    err.write('  File "/s/job.py", line 3, in <module>\n')
    err.write("26/11/25 08:31:46 INFO SparkContext: interleaved log line\n")
    err.write("    main()\n")
    err.write("ValueError: bad row 42\n")
    for i in range(60):
        err.write("26/11/25 08:31:47 INFO ShutdownHookManager: line %d\n" % i)
    sys.exit(3)
if mode == "props":
    path = sys.argv[sys.argv.index("--properties-file") + 1]
    print("props", path, oct(os.stat(path).st_mode & 0o777), flush=True)
    print(open(path).read(), flush=True)
    sys.exit(0)
if mode == "id-then-hang":
    err.write("26/11/25 08:31:42 INFO StandaloneSchedulerBackend: Connected to Spark cluster "
              "with app ID app-20261125083142-0008\n")
    err.flush()
    time.sleep(300)
if mode == "hang":
    # Like pyspark's daemon: a descendant in its own process group.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                             start_new_session=True)
    open(os.environ["FAKE_PIDFILE"], "w").write(str(child.pid))
    print("started", flush=True)
    time.sleep(300)
if mode == "tree":
    # Like the JVM of a client-mode Python application: the driver's Python as a child (started
    # as PYSPARK_DRIVER_PYTHON), and a daemon that leads its own process group.
    sleep = ["-c", "import time; time.sleep(300)"]
    driver = subprocess.Popen([os.environ["PYSPARK_DRIVER_PYTHON"], *sleep])
    daemon = subprocess.Popen([sys.executable, *sleep], start_new_session=True)
    pids = {"jvm": os.getpid(), "driver": driver.pid, "daemon": daemon.pid}
    with open(os.environ["FAKE_PIDFILE"] + ".tmp", "w") as fh:
        json.dump(pids, fh)
    os.replace(os.environ["FAKE_PIDFILE"] + ".tmp", os.environ["FAKE_PIDFILE"])
    time.sleep(300)
if mode == "exit137":
    sys.exit(137)
"""


@pytest.fixture
def fake(tmp_path: Path) -> str:
    path = tmp_path / "spark-submit"
    path.write_text(f"#!{sys.executable}\n{FAKE}")
    path.chmod(0o755)
    return str(path)


def runner(fake: str, mode: str, **kwargs: object) -> SparkSubmitRunner:
    spec = SubmitSpec(
        app="/s/job.py",
        app_args=("--output", "/o"),
        spark_submit=fake,
        master="local[2]",
        env={"FAKE_MODE": mode},
        secrets=("s3cr3t-value",),
    )
    return SparkSubmitRunner(spec, **kwargs)  # type: ignore[arg-type]


def test_success_reports_progress_status_and_app_id(fake: str) -> None:
    percents: list[int] = []
    statuses: list[str] = []
    result = runner(fake, "progress", on_percent=percents.append, on_status=statuses.append).run()
    assert result.returncode == 0
    assert result.app_id == "app-20261125083142-0007"
    assert "argv --master local[2] --deploy-mode client /s/job.py --output /o" in result.tail
    assert not any("[Stage" in line for line in result.tail)
    assert percents[0] < percents[-2] <= 100
    assert percents[-1] == 100
    assert percents == sorted(percents)
    assert statuses[0].startswith("application app-20261125083142-0007")
    assert any("Stage 0: " in s and "/8 tasks done" in s for s in statuses)


def test_failure_has_code_traceback_tail_and_masks_secrets(
    fake: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FAKE_SECRET", "s3cr3t-value")
    with (
        caplog.at_level(logging.DEBUG, logger="luigi_ufo.spark"),
        pytest.raises(SparkSubmitError) as caught,
    ):
        runner(fake, "fail", tail_lines=40).run()
    assert ("spark-submit: token is ***", logging.INFO) in levels(caplog)
    assert not any("s3cr3t-value" in m for m in caplog.messages)
    # Spark's own INFO lines are quiet: logged at DEBUG only.
    spark_info = [(m, lv) for m, lv in levels(caplog) if " INFO ShutdownHookManager: " in m]
    assert len(spark_info) == 60
    assert {lv for _, lv in spark_info} == {logging.DEBUG}
    message = str(caught.value)
    assert message.startswith("Spark application failed: spark-submit exited with code 3")
    assert "s3cr3t-value" not in message
    assert "ValueError: bad row 42" in message  # the traceback is kept apart
    traceback = message.split("Python traceback of the script:\n")[1].split("\n  last")[0]
    assert traceback.splitlines() == [
        "    Traceback (most recent call last):",
        '      File "/s/job.py", line 3, in <module>',
        "        main()",
        "    ValueError: bad row 42",
    ]
    # The tail keeps what was shown: the script's output, not 60 lines of Spark's shutdown.
    assert "last 1 other lines of output:\n    token is ***\n" in message
    assert "ShutdownHookManager" not in message
    assert f"command: {fake} --master 'local[2]'" in message


def test_spark_log_level_info_shows_sparks_info_lines_and_keeps_them_in_the_tail(
    fake: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="luigi_ufo.spark"),
        pytest.raises(SparkSubmitError) as caught,
    ):
        runner(fake, "fail", tail_lines=40, spark_log_level="INFO").run()
    spark_info = [(m, lv) for m, lv in levels(caplog) if " INFO ShutdownHookManager: " in m]
    assert {lv for _, lv in spark_info} == {logging.INFO}
    message = str(caught.value)
    assert "ShutdownHookManager: line 59" in message
    assert "token is ***" not in message  # scrolled out of the 40-line tail


def levels(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int]]:
    return [(r.getMessage(), r.levelno) for r in caplog.records]


def test_timeout_kills_process_group_and_descendants(fake: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    spec_runner = runner(fake, "hang", timeout=2.0, kill_grace_s=2.0)
    spec_runner.base_env["FAKE_PIDFILE"] = str(pidfile)
    started = time.monotonic()
    with pytest.raises(SparkSubmitError, match="timed out after 2 s") as caught:
        spec_runner.run()
    assert time.monotonic() - started < 15
    assert "action: killed process group" in str(caught.value)
    grandchild = int(pidfile.read_text())
    assert not _alive(grandchild)
    assert spec_runner.pid is not None
    assert not _alive(spec_runner.pid)


def test_missing_spark_submit_is_explained(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "spark-submit")
    with pytest.raises(SparkSubmitError, match=r"cannot start spark-submit .*set \[spark_script\]"):
        runner(missing, "progress").run()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_private_conf_reaches_spark_submit_in_a_0600_file_removed_after(
    fake: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec = SubmitSpec(
        app="/s/job.py",
        spark_submit=fake,
        master="spark://m:7077",
        env={"FAKE_MODE": "props", "SPARK_CONF_DIR": "/nonexistent"},
        private_conf={"spark.hadoop.fs.s3a.secret.key": "s3cr3t-value"},
        secrets=("s3cr3t-value",),
    )
    with caplog.at_level(logging.INFO, logger="luigi_ufo.spark"):
        result = SparkSubmitRunner(spec).run()
    [line] = [t for t in result.tail if t.startswith("props ")]
    _, path, mode = line.split()
    assert mode == "0o600"
    assert not Path(path).exists()
    assert "spark.hadoop.fs.s3a.secret.key=***" in result.tail  # read by the child, masked here
    assert f"--properties-file {path}" in result.command
    assert not any("s3cr3t-value" in m for m in caplog.messages)


def test_a_scheduler_that_is_gone_neither_fails_nor_stops_the_run(
    fake: str, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable_scheduler(value: object) -> None:
        raise ConnectionError(f"luigid unreachable while reporting {value!r}")

    spec_runner = runner(
        fake,
        "progress",
        on_percent=unreachable_scheduler,
        on_status=unreachable_scheduler,
        on_tracking_url=unreachable_scheduler,
    )
    with caplog.at_level(logging.WARNING, logger="luigi_ufo.spark"):
        result = spec_runner.run()
    assert result.returncode == 0
    assert "argv --master local[2] --deploy-mode client /s/job.py --output /o" in result.tail
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings  # once for progress, once for the status message
    assert all("the run goes on without it" in w for w in warnings)


def test_a_hanging_scheduler_does_not_hold_up_the_timeout(fake: str, tmp_path: Path) -> None:
    release = threading.Event()
    spec_runner = runner(
        fake, "id-then-hang", timeout=3.0, kill_grace_s=2.0, on_status=lambda m: release.wait(120)
    )
    started = time.monotonic()
    try:
        with pytest.raises(SparkSubmitError, match="timed out after 3 s"):
            spec_runner.run()
        assert time.monotonic() - started < 30
        assert spec_runner.pid is not None
        assert not _alive(spec_runner.pid)
    finally:
        release.set()


def run_in_thread(spec_runner: SparkSubmitRunner) -> tuple[threading.Thread, dict[str, object]]:
    """Run ``spec_runner`` in a thread; the dict gets its error and what was alive right then."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            spec_runner.run()
        except SparkSubmitError as exc:
            outcome["error"] = str(exc)
        pids = json.loads(Path(spec_runner.base_env["FAKE_PIDFILE"]).read_text())
        outcome["alive"] = sorted(name for name, pid in pids.items() if _alive(pid))

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def tree_runner(fake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SparkSubmitRunner:
    monkeypatch.setenv("LUIGI_UFO_RUNTIME_DIR", str(tmp_path / "run"))
    spec = SubmitSpec(
        app="/s/job.py",
        spark_submit=fake,
        master="local[2]",
        env={"FAKE_MODE": "tree", "PYSPARK_DRIVER_PYTHON": sys.executable},
    )
    spec_runner = SparkSubmitRunner(spec, kill_grace_s=2.0, leases=[str(tmp_path / "out")])
    spec_runner.base_env["FAKE_PIDFILE"] = str(tmp_path / "pids.json")
    return spec_runner


def wait_for(predicate: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_a_killed_supervisor_takes_the_whole_application_along(
    fake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_runner = tree_runner(fake, tmp_path, monkeypatch)
    thread, outcome = run_in_thread(spec_runner)
    assert wait_for((tmp_path / "pids.json").exists)
    assert spec_runner.pid is not None
    psutil.Process(spec_runner.pid).send_signal(signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive()
    error = str(outcome["error"])
    assert error.startswith(
        f"Spark application failed: the spark-submit supervisor (pid {spec_runner.pid}) was "
        "killed by SIGKILL; spark-submit and every process of the application were stopped"
    ), error
    # Nothing of the application was alive when the run failed (and freed its lease).
    assert outcome["alive"] == []
    assert list((tmp_path / "run").glob("lease-*")) == []


def test_a_killed_jvm_is_named_and_nothing_of_its_application_outlives_the_run(
    fake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_runner = tree_runner(fake, tmp_path, monkeypatch)
    thread, outcome = run_in_thread(spec_runner)
    assert wait_for((tmp_path / "pids.json").exists)
    jvm = json.loads((tmp_path / "pids.json").read_text())["jvm"]
    psutil.Process(jvm).send_signal(signal.SIGKILL)  # as the out-of-memory killer does
    thread.join(timeout=60)
    assert not thread.is_alive()
    error = str(outcome["error"])
    assert error.startswith(
        f"Spark application failed: spark-submit (pid {jvm}, the driver JVM) was killed by "
        "SIGKILL (what the kernel's out-of-memory killer sends"
    ), error
    assert "OSError" not in error  # the supervisor passed the signal on without a traceback
    assert outcome["alive"] == []
    assert list((tmp_path / "run").glob("lease-*")) == []


def test_a_driver_killed_by_a_signal_is_named(fake: str) -> None:
    with pytest.raises(SparkSubmitError) as caught:
        runner(fake, "exit137").run()
    assert str(caught.value).startswith(
        "Spark application failed: spark-submit exited with code 137: the driver's Python "
        "process was killed by SIGKILL"
    )


def test_a_leased_output_is_not_written_by_a_second_application(
    fake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUIGI_UFO_RUNTIME_DIR", str(tmp_path / "run"))
    uri = str(tmp_path / "lake" / "2024-01-01")
    with partition_leases([uri], timeout_s=1.0):  # another live application holds it
        second = runner(fake, "progress", leases=[uri], lease_timeout_s=0.5)
        with pytest.raises(LeaseError, match=f"partition {uri!r} is still being written"):
            second.run()
        assert second.pid is None, "spark-submit was started anyway"
    assert runner(fake, "progress", leases=[uri]).run().returncode == 0
    assert list((tmp_path / "run").glob("lease-*")) == []
