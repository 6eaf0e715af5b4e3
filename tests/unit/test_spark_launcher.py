"""The driver's Python launcher: runs the real interpreter, and dies with its parent (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from luigi_ufo.paths import RUNTIME_DIR_ENV
from luigi_ufo.spark.submit.launcher import DRIVER_ENV, driver_environment, driver_launcher
from luigi_ufo.spark.submit.supervisor import SUPERVISOR_ENV

linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only"
)


@pytest.fixture(autouse=True)
def private_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(path))
    return path


@linux
def test_the_launcher_runs_the_target_with_the_arguments_given(private_runtime: Path) -> None:
    env = driver_environment({DRIVER_ENV: sys.executable}, {}, client_mode=True)
    launcher = env[DRIVER_ENV]
    assert Path(launcher).parent == private_runtime
    assert Path(launcher).stat().st_mode & 0o777 == 0o700
    code = "import sys; print(sys.executable); print(sys.argv[1:])"
    out = subprocess.run(
        [launcher, "-c", code, "a b", "--c"], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [sys.executable, "['a b', '--c']"]
    # One launcher per target, reused by every run.
    assert driver_environment({DRIVER_ENV: sys.executable}, {}, client_mode=True) == env


@linux
def test_spark_falls_back_to_pyspark_python_then_python3(private_runtime: Path) -> None:
    text = Path(driver_environment({}, {}, client_mode=True)[DRIVER_ENV]).read_text()
    assert "os.execvp('python3', ['python3', *sys.argv[1:]])" in text
    env = driver_environment({"PYSPARK_PYTHON": "/opt/py/bin/python"}, {}, client_mode=True)
    assert "'/opt/py/bin/python'" in Path(env[DRIVER_ENV]).read_text()


@linux
def test_a_missing_target_is_named(private_runtime: Path) -> None:
    launcher = driver_launcher(str(private_runtime / "no-such-python"))
    assert launcher is not None
    done = subprocess.run([launcher, "x.py"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "cannot start the driver's Python" in done.stderr
    assert "set [spark_script] python" in done.stderr


PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.argv[1], "-c", "import time; time.sleep(300)"])
print(child.pid, flush=True)
time.sleep(300)
"""


def child_of_a_killed_parent(python: str) -> int:
    """Start ``python`` as the child of a parent that is then SIGKILLed; return the child's pid."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, python], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.stdout.close()
    # The launcher has asked for its parent-death signal once it has exec'd the target.
    assert wait_for(lambda: psutil.Process(child).cmdline()[:2] == [sys.executable, "-c"])
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    return child


@linux
def test_a_driver_started_through_the_launcher_dies_with_its_parent() -> None:
    launcher = driver_launcher(sys.executable)
    assert launcher is not None
    child = child_of_a_killed_parent(launcher)
    assert wait_for(lambda: gone(child)), "the driver outlived its JVM"


@linux
def test_a_driver_whose_jvm_died_before_it_started_dies_at_once(tmp_path: Path) -> None:
    # Its parent is then the supervisor (the tree's subreaper) or init: it must not run at all.
    launcher = driver_launcher(sys.executable)
    assert launcher is not None
    ran = tmp_path / "ran"
    env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}  # as if we were the supervisor
    code = f"open({str(ran)!r}, 'w').close()"
    done = subprocess.run([launcher, "-c", code], env=env, check=False)
    assert done.returncode == 137
    assert not ran.exists()


def test_without_the_launcher_the_driver_outlives_its_parent() -> None:
    # What the launcher is for (and proof the test above can fail).
    child = child_of_a_killed_parent(sys.executable)
    try:
        time.sleep(1.0)
        assert not gone(child)
    finally:
        os.kill(child, signal.SIGKILL)


def test_nothing_is_wrapped_where_the_launcher_does_not_apply() -> None:
    env = {DRIVER_ENV: sys.executable}
    assert driver_environment(env, {}, client_mode=False) == env  # the driver runs elsewhere
    for key in ("spark.pyspark.driver.python", "spark.pyspark.python"):
        assert driver_environment(env, {key: "/x/python"}, client_mode=True) == env
    assert driver_launcher(sys.executable, interpreter="/opt/my python/bin/python") is None
    assert driver_launcher(sys.executable, interpreter="/" + "x" * 200) is None


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if predicate():
                return True
        except psutil.Error:
            pass
        time.sleep(0.05)
    return False
