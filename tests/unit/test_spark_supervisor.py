"""The spark-submit supervisor with plain child processes (no Spark, no network).

The supervisor is run exactly as the runner runs it (``python supervisor.py ... -- argv``); the
"worker" is either this test holding the lifeline, or a real process running the real runner
that the test SIGKILLs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from luigi_ufo.spark.submit.runner import SUPERVISOR
from luigi_ufo.spark.submit.supervisor import APP_ENV, parse_killed

CHILD = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(300)"


def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], int]]]:
    """Start the supervisor over a command; return it and the write end of its lifeline."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        *command: str, extra: tuple[str, ...] = (), mark: str | None = None
    ) -> tuple[subprocess.Popen[bytes], int]:
        read, write = os.pipe()
        argv = [sys.executable, str(SUPERVISOR), "--lifeline", str(read)]
        argv += ["--parent", str(os.getpid()), "--grace", "2", *extra, "--", *command]
        env = {**os.environ, **({APP_ENV: mark} if mark else {})}
        proc = subprocess.Popen(
            argv,
            pass_fds=(read,),
            start_new_session=True,
            env=env,
            stderr=subprocess.PIPE if mark else None,
        )
        os.close(read)
        started.append(proc)
        return proc, write

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_lifeline_eof_kills_the_child_and_removes_files(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]], tmp_path: Path
) -> None:
    pidfile, secret = tmp_path / "pid", tmp_path / "secret.properties"
    secret.write_text("spark.hadoop.fs.s3a.secret.key=x\n")
    command = (sys.executable, "-c", CHILD, str(pidfile))
    proc, lifeline = supervise(*command, extra=("--remove", str(secret)))
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
    child = int(pidfile.read_text())
    time.sleep(0.5)
    assert proc.poll() is None, "the supervisor must wait while the worker lives"
    assert not gone(child)
    assert secret.exists()
    os.close(lifeline)  # what the OS does when the worker dies
    assert proc.wait(timeout=20) == 0
    assert gone(child)
    assert not secret.exists()


def test_exit_status_is_passed_on(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]],
) -> None:
    proc, lifeline = supervise(sys.executable, "-c", "import sys; sys.exit(3)")
    assert proc.wait(timeout=20) == 3
    os.close(lifeline)
    proc, lifeline = supervise(
        sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    )
    assert proc.wait(timeout=20) == -signal.SIGTERM
    os.close(lifeline)


def test_sigterm_stops_the_child_and_the_supervisor(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    proc, lifeline = supervise(sys.executable, "-c", CHILD, str(pidfile))
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM
    assert gone(int(pidfile.read_text()))
    os.close(lifeline)


def test_missing_command_is_reported(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]], tmp_path: Path
) -> None:
    proc, lifeline = supervise(str(tmp_path / "nope"))
    assert proc.wait(timeout=20) == 127
    os.close(lifeline)


FAKE_CLUSTER = r"""
import os, sys, time
if "--kill" in sys.argv:
    open(os.environ["FAKE_KILLED"], "w").write(" ".join(sys.argv[1:]))
    sys.exit(0)
sys.stderr.write("26/11/25 08:31:42 INFO ClientEndpoint: Driver successfully submitted as "
                 "driver-20261125083142-0003\n")
sys.stderr.flush()
open(os.environ["FAKE_PIDFILE"], "w").write(str(os.getpid()))
time.sleep(300)
"""


def fake_cluster(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, str]]:
    """Write the fake cluster spark-submit; return it, its kill and pid files and its env."""
    fake = tmp_path / "spark-submit"
    fake.write_text(f"#!{sys.executable}\n{FAKE_CLUSTER}")
    fake.chmod(0o755)
    killed, pidfile = tmp_path / "killed", tmp_path / "pid"
    return (
        fake,
        killed,
        pidfile,
        {**os.environ, "FAKE_KILLED": str(killed), "FAKE_PIDFILE": str(pidfile)},
    )


WORKER = """
import sys
from pathlib import Path
from luigi_ufo.spark.submit.spec import SubmitSpec
from luigi_ufo.spark.submit.runner import SparkSubmitRunner
spec = SubmitSpec(app="/s/job.jar", main_class="Job", spark_submit=sys.argv[1],
                  master="spark://m:7077", deploy_mode="cluster")
# on_status runs right after the runner has sent the supervisor the kill command.
SparkSubmitRunner(spec, kill_grace_s=2.0, on_status=Path(sys.argv[2]).write_text).run()
"""


def test_worker_sigkill_runs_the_remote_kill_of_a_cluster_application(tmp_path: Path) -> None:
    """A SIGKILLed worker's cluster-mode driver is killed where it runs (spark-submit --kill)."""
    fake, killed, pidfile, env = fake_cluster(tmp_path)
    status = tmp_path / "status"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(fake), str(status)], env=env)
    try:
        assert wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
        client = int(pidfile.read_text())
        assert wait_for(lambda: status.exists() and "driver-" in status.read_text())
        worker.kill()
        worker.wait()
        assert wait_for(killed.exists), "the supervisor never ran the remote kill"
        assert killed.read_text() == "--master spark://m:7077 --kill driver-20261125083142-0003"
        assert wait_for(lambda: gone(client)), "the local spark-submit outlived its worker"
    finally:
        if worker.poll() is None:
            worker.kill()


def test_lifeline_message_arms_the_remote_kill(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]], tmp_path: Path
) -> None:
    marker, pidfile = tmp_path / "remote-killed", tmp_path / "pid"
    proc, lifeline = supervise(sys.executable, "-c", CHILD, str(pidfile))
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
    kill = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]
    os.write(lifeline, b"not json\n" + json.dumps({"kill": kill}).encode() + b"\n")
    time.sleep(0.5)
    assert not marker.exists(), "the remote kill runs only when the worker is gone"
    os.close(lifeline)
    assert proc.wait(timeout=20) == 0
    assert marker.exists()
    assert gone(int(pidfile.read_text()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_child_dies_with_a_sigkilled_supervisor(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    proc, lifeline = supervise(sys.executable, "-c", CHILD, str(pidfile))
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
    proc.kill()
    proc.wait()
    assert wait_for(lambda: gone(int(pidfile.read_text()))), "no parent-death signal"
    os.close(lifeline)


def test_supervisor_imports_nothing_of_luigi_ufo() -> None:
    # It is run by path: a luigi_ufo import would depend on the worker's sys.path.
    source = SUPERVISOR.read_text()
    assert "import luigi" not in source
    assert "from luigi" not in source


#: A stand-in for spark-submit's JVM: a child like the Python driver (marked, since it inherits
#: the environment, or not with "clean"), a daemon leading its own group, then it waits.
JVM = """
import json, os, subprocess, sys, time
sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
env = {"PATH": os.environ["PATH"]} if sys.argv[2] == "clean" else None
driver = subprocess.Popen(sleep, env=env)
daemon = subprocess.Popen(sleep, start_new_session=True, env=env)
with open(sys.argv[1] + ".tmp", "w") as fh:
    json.dump({"jvm": os.getpid(), "driver": driver.pid, "daemon": daemon.pid}, fh)
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
if sys.argv[3] == "exit":
    sys.exit(0)
time.sleep(300)
"""


def start_jvm(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]],
    tmp_path: Path,
    env: str = "marked",
    end: str = "wait",
) -> tuple[subprocess.Popen[bytes], int, dict[str, int]]:
    pidfile = tmp_path / "pids.json"
    proc, lifeline = supervise(
        sys.executable, "-c", JVM, str(pidfile), env, end, mark=f"app-{tmp_path.name}"
    )
    assert wait_for(pidfile.exists)
    pids: dict[str, int] = json.loads(pidfile.read_text())
    return proc, lifeline, pids


def test_a_jvm_killed_by_a_signal_is_named_and_its_orphans_stopped(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]], tmp_path: Path
) -> None:
    proc, lifeline, pids = start_jvm(supervise, tmp_path)
    psutil.Process(pids["jvm"]).send_signal(signal.SIGKILL)  # as the OOM killer does
    assert proc.wait(timeout=30) == -signal.SIGKILL  # passed on as the runner expects
    assert proc.stderr is not None
    said = proc.stderr.read().decode().splitlines()
    assert (
        said[0] == f"luigi-ufo supervisor: spark-submit (pid {pids['jvm']}) was killed by SIGKILL"
    )
    assert parse_killed(said[0]) == (pids["jvm"], "SIGKILL")
    assert said[1].startswith("luigi-ufo supervisor: stopped 2 process(es) of the application")
    assert len(said) == 2, said  # no traceback (SIGKILL cannot be handled: no EINVAL)
    # Stopped before the supervisor exited: the leases it holds outlived them.
    assert gone(pids["driver"])
    assert gone(pids["daemon"])
    os.close(lifeline)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is Linux-only")
def test_orphans_that_dropped_the_mark_come_back_to_the_supervisor(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]], tmp_path: Path
) -> None:
    proc, lifeline, pids = start_jvm(supervise, tmp_path, env="clean")
    psutil.Process(pids["jvm"]).send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert gone(pids["driver"])
    assert gone(pids["daemon"])
    os.close(lifeline)


def test_what_outlives_a_normal_end_is_stopped_after_a_moment(
    supervise: Callable[..., tuple[subprocess.Popen[bytes], int]], tmp_path: Path
) -> None:
    proc, lifeline, pids = start_jvm(supervise, tmp_path, end="exit")
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None
    said = proc.stderr.read().decode()
    assert "stopped 2 process(es) of the application left after spark-submit ended" in said
    assert gone(pids["driver"])
    assert gone(pids["daemon"])
    os.close(lifeline)


SIGHUP_FIRST = """
import json, os, signal, sys
from luigi_ufo.spark.submit.supervisor import Supervisor
fake = sys.argv[1]
read_end, write_end = os.pipe()
kill = [fake, "--master", "spark://m:7077", "--kill", "driver-1"]
os.write(write_end, json.dumps({"kill": kill}).encode() + b"\\n")
os.close(write_end)  # the worker is gone, its last line unread
supervisor = Supervisor([fake], lifeline=read_end, grace_s=1.0)
supervisor.on_signal(signal.SIGHUP, None)  # its parent-death signal came first
sys.exit(supervisor.run())
"""


def test_the_remote_kill_sent_last_is_run_when_the_parent_death_signal_comes_first(
    tmp_path: Path,
) -> None:
    """The worker's last line (the kill command) is read even when SIGHUP beat the read."""
    fake, killed, _, env = fake_cluster(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SIGHUP_FIRST, str(fake)], env=env, timeout=120, check=False
    )
    assert done.returncode == 0
    assert killed.read_text() == "--master spark://m:7077 --kill driver-1"
