"""Connect mode stops what it starts: no orphan beside a retry, a dead server, a deaf script.

Real Spark Connect servers (the session's ``spark_connect`` and, for a server to kill, one of the
test's own), real Luigi workers in their own processes. Kills are deterministic: the script's
task blocks mid-write on a gate file until the test has killed the worker.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from luigi_ufo.errors import SparkConnectError

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))  # probe_tasks must be importable by name

from probe_tasks import ConnectProbe, TimedConnectProbe  # noqa: E402

from tests.integration.test_spark_connect import wait_for_jobs_all  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SetConfig = Callable[[str, str, str], None]
ROWS = 5000
WORKER = """
import sys
import luigi
from probe_tasks import GatedFrame
task = GatedFrame(root=sys.argv[1], script_args=["--rows", sys.argv[2], "--gate", sys.argv[3]])
sys.exit(0 if luigi.build([task], local_scheduler=True, workers=1) else 1)
"""


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def worker_env(tmp_path: Path, spark_connect: Any) -> dict[str, str]:
    """Environment of a Luigi worker process in connect mode, with a runtime dir of the test's."""
    config = tmp_path / "luigi.cfg"
    config.write_text(
        f"[spark_script]\nscripts_dir = {SCRIPTS}\nmode = connect\n"
        f"connect_url = {spark_connect.url}\nkill_grace = 5\n"
    )
    env = {
        **os.environ,
        "LUIGI_CONFIG_PATH": str(config),
        "PYTHONPATH": os.pathsep.join([str(SCRIPTS), os.environ.get("PYTHONPATH", "")]),
        "LUIGI_UFO_RUNTIME_DIR": str(tmp_path / "run"),
    }
    return env


@pytest.mark.parametrize("killed", ["worker", "worker-and-script-process"])
def test_a_sigkilled_worker_s_write_is_stopped_on_the_server_before_the_retry_writes(
    killed: str, tmp_path: Path, worker_env: dict[str, str], spark_connect: Any
) -> None:
    """Issue 21: the server kept running a dead client's write beside the retry (duplicates).

    ``worker``: the script's process sees its worker die and ends its session on the server.
    ``worker-and-script-process``: both die at once (an OOM kill of the whole cgroup); the retry
    finds the dead run's session beside the lease and ends it before it writes.
    """
    root, gate = tmp_path / "lake", tmp_path / "gate"
    gate.mkdir()
    (gate / "armed").touch()
    args = [sys.executable, "-c", WORKER, str(root), str(ROWS), str(gate)]
    with (tmp_path / "worker1.log").open("wb") as log1:
        worker = subprocess.Popen(args, env=worker_env, stdout=log1, stderr=subprocess.STDOUT)
        try:
            assert wait_for(lambda: (gate / "blocked").exists() or worker.poll() is not None, 240)
            assert worker.poll() is None, (tmp_path / "worker1.log").read_text()[-3000:]
            # Mid-write on the server: the output directory replaced, one task blocked.
            doomed = [psutil.Process(worker.pid)]
            if killed != "worker":
                doomed += doomed[0].children(recursive=True)
            for proc in doomed:
                proc.kill()  # SIGKILL, as the OOM killer does
            worker.wait()
        finally:
            worker.kill()
    (gate / "armed").unlink()

    done = subprocess.run(args, env=worker_env, capture_output=True, timeout=400, check=False)
    (gate / "release").touch()  # lets a surviving orphan go on and commit, as it would
    log = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, log[-4000:]
    wait_for_jobs_all(spark_connect, timeout=120)  # whatever still ran has finished now

    partition = root / "2026-11-24"
    assert (partition / "_SUCCESS").exists()
    ids = [int(line) for p in sorted(partition.glob("part-*")) for line in p.read_text().split()]
    assert len(ids) == ROWS, f"{len(ids)} rows, {len(ids) - len(set(ids))} duplicates"
    assert sorted(ids) == list(range(ROWS))
    [live] = [int(p.read_text()) for p in gate.glob("live-at-start-*")]
    assert live == 0, "the retry ran while the killed run's task still ran on the server"
    if killed != "worker":
        assert re.search(r"were being written by Spark Connect session \S+ at \S+ of a run", log)
    # A finished run leaves neither lock files nor session records.
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == []


@pytest.fixture
def scripts(luigi_config: SetConfig) -> None:
    luigi_config("spark_script", "scripts_dir", str(SCRIPTS))
    luigi_config("spark_script", "mode", "connect")


def test_a_timeout_stops_a_script_asleep_in_c_that_ignores_sigterm_and_swallows_everything(
    scripts: None, tmp_path: Path, luigi_config: SetConfig, spark_connect: Any
) -> None:
    """Issue 21: a timeout did not stop a script blocked in C or catching BaseException."""
    luigi_config("spark_script", "connect_url", spark_connect.url)
    luigi_config("spark_script", "kill_grace", "2")
    task = TimedConnectProbe(
        root=str(tmp_path / "out"), timeout=5.0, script_args=["--mode", "block"]
    )
    started = time.monotonic()
    with pytest.raises(SparkConnectError) as info:
        task.run()
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert "timed out after 5 s" in message, message
    assert "stopped the script's process" in message, message
    assert "killed by SIGKILL" in message, message
    assert elapsed < 30, f"{elapsed:.0f} s"
    assert not task.output().exists()


@pytest.fixture
def own_server() -> Iterator[Any]:
    """A Connect server of the test's own, to be killed."""
    from luigi_ufo.testing.connect import start_spark_connect

    server = start_spark_connect()
    try:
        yield server
    finally:
        server.stop()


def test_a_server_that_dies_mid_run_fails_the_task_within_its_timeout(
    scripts: None, tmp_path: Path, luigi_config: SetConfig, own_server: Any
) -> None:
    """Issue 21: with the server dead the worker hung 25 minutes and more, timeout or not.

    The run ends at its timeout or earlier (when the client's bounded retries give up),
    naming the dead server; nothing of it is left to end there.
    """
    timeout = 60.0  # the job starts within it even on a loaded machine
    luigi_config("spark_script", "connect_url", own_server.url)
    task = TimedConnectProbe(
        root=str(tmp_path / "out"),
        timeout=timeout,
        script_args=["--mode", "slow", "--tasks", "2", "--sleep", "300"],
    )
    killed: list[float] = []

    def kill_when_running() -> None:
        def running() -> bool:
            try:
                return any(j["status"] == "RUNNING" for j in own_server.jobs())
            except (OSError, ValueError):
                return False

        if wait_for(running, timeout):
            os.killpg(own_server.pid, signal.SIGKILL)
            killed.append(time.monotonic())

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    started = time.monotonic()
    try:
        with pytest.raises(SparkConnectError) as info:
            task.run()
    finally:
        killer.join()
    ended = time.monotonic()
    assert killed, "the job never ran before the timeout"
    into, after = killed[0] - started, ended - killed[0]
    print(f"server killed {into:.1f} s into the run, which failed {after:.1f} s later")
    message = str(info.value)
    assert f"the server at {own_server.url} is gone (connection refused)" in message, message
    assert ended - started < timeout + 10, f"{ended - started:.0f} s"


def test_an_unreachable_server_fails_the_task_in_bounded_time_without_a_timeout(
    scripts: None, tmp_path: Path, luigi_config: SetConfig
) -> None:
    """No timeout: the client's retries are bounded (pyspark's own default: 10 min per call)."""
    from luigi_ufo.services.ports import free_port

    url = f"sc://127.0.0.1:{free_port('127.0.0.1')}"  # nobody listens there
    luigi_config("spark_script", "connect_url", url)
    task = ConnectProbe(root=str(tmp_path / "out"))
    started = time.monotonic()
    with pytest.raises(SparkConnectError) as info:
        task.run()
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert f"cannot open a session on the Spark Connect server {url!r}" in message, message
    assert "luigi-ufo connect start" in message
    assert elapsed < 60, f"{elapsed:.0f} s"
