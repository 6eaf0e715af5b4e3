"""SparkSubmitRunner against a stand-in spark-submit program (no Spark, no network).

The stand-in is a real executable run by the real runner: what it prints mimics spark-submit's
stderr (progress bars with carriage returns, log4j lines, a Python traceback). The real thing is
covered by tests/integration/test_spark_task.py.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest

from luigi_ufo.errors import LeaseError, SparkSubmitError
from luigi_ufo.spark.command import SubmitSpec
from luigi_ufo.spark.lease import partition_leases
from luigi_ufo.spark.runner import SparkSubmitRunner

FAKE = r"""
import os, subprocess, sys, time
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
    assert statuses[0] == "application app-20261125083142-0007"
    assert any("Stage 0: " in s and "/8 tasks done" in s for s in statuses)


def test_failure_has_code_traceback_tail_and_masks_secrets(
    fake: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FAKE_SECRET", "s3cr3t-value")
    with (
        caplog.at_level(logging.INFO, logger="luigi_ufo.spark"),
        pytest.raises(SparkSubmitError) as caught,
    ):
        runner(fake, "fail", tail_lines=40).run()
    assert "spark-submit: token is ***" in caplog.messages
    assert not any("s3cr3t-value" in m for m in caplog.messages)
    message = str(caught.value)
    assert message.startswith("Spark application failed: spark-submit exited with code 3")
    assert "s3cr3t-value" not in message
    assert "token is ***" not in message  # scrolled out of the 40-line tail...
    assert "ValueError: bad row 42" in message  # ...but the traceback is kept apart
    traceback = message.split("Python traceback of the script:\n")[1].split("\n  last")[0]
    assert traceback.splitlines() == [
        "    Traceback (most recent call last):",
        '      File "/s/job.py", line 3, in <module>',
        "        main()",
        "    ValueError: bad row 42",
    ]
    assert "last 40 other lines of output:" in message
    assert "ShutdownHookManager: line 59" in message
    assert f"command: {fake} --master 'local[2]'" in message


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


def test_failing_callback_kills_the_application(fake: str) -> None:
    def unreachable_scheduler(message: str) -> None:
        raise ConnectionError(f"luigid unreachable while setting {message!r}")

    spec_runner = runner(fake, "id-then-hang", on_status=unreachable_scheduler, kill_grace_s=2.0)
    started = time.monotonic()
    with pytest.raises(ConnectionError, match="application app-20261125083142-0008"):
        spec_runner.run()
    assert time.monotonic() - started < 15
    assert spec_runner.pid is not None
    assert not _alive(spec_runner.pid)


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
