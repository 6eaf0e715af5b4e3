"""Whatever is killed (the Luigi worker, the supervisor, the JVM, the driver), the Spark
application goes with it, and its retry runs alone.

Real spark-submit (local[2] and a standalone cluster), real Luigi workers in their own processes.
The kill is deterministic: the script blocks mid-write on a gate file, or its driver at a pause
point (``luigi_ufo.pause_points``), until the test has killed what it kills.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from luigi_ufo.pause_points import PAUSE_ENV
from luigi_ufo.spark.submit.properties import PREFIX

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))  # probe_tasks must be importable by name

from probe_tasks import FAST_CONF  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 5000
WORKER = """
import sys
import luigi
from probe_tasks import GatedRows
task = GatedRows(root=sys.argv[1], script_args=["--rows", sys.argv[2], "--gate", sys.argv[3]])
sys.exit(0 if luigi.build([task], local_scheduler=True, workers=1) else 1)
"""


def tagged(tag: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose environment carries LUIGI_UFO_TEST_TAG=tag."""
    found = []
    for proc in psutil.process_iter():
        try:
            mine = proc.environ().get("LUIGI_UFO_TEST_TAG") == tag
            if mine and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def kill_tagged(*tags: str) -> None:
    for tag in tags:
        for proc in tagged(tag):
            try:
                proc.kill()
            except psutil.Error:
                continue


@pytest.fixture
def worker_env(
    tmp_path: Path, spark_local_master: str
) -> Iterator[Callable[[str], dict[str, str]]]:
    """Environment of a Luigi worker process: config file, probe tasks, shared runtime dir."""
    config = tmp_path / "luigi.cfg"
    config.write_text(
        f"[spark_script]\nscripts_dir = {SCRIPTS}\nmaster = {spark_local_master}\n"
        f"conf = {json.dumps(FAST_CONF)}\nkill_grace = 5\n"
    )
    tags: list[str] = []

    def env(tag: str) -> dict[str, str]:
        tags.append(tag)
        return {
            **os.environ,
            "LUIGI_CONFIG_PATH": str(config),
            "PYTHONPATH": str(SCRIPTS),
            "LUIGI_UFO_TEST_TAG": tag,
            "LUIGI_UFO_RUNTIME_DIR": str(tmp_path / "run"),
        }

    yield env
    kill_tagged(*tags)


def test_sigkilled_worker_leaves_no_orphan_and_the_retry_writes_exactly_once(
    tmp_path: Path, worker_env: Callable[[str], dict[str, str]]
) -> None:
    root, gate = tmp_path / "lake", tmp_path / "gate"
    gate.mkdir()
    (gate / "armed").touch()
    first, retry = f"first-{uuid.uuid4().hex}", f"retry-{uuid.uuid4().hex}"
    args = [sys.executable, "-c", WORKER, str(root), str(ROWS), str(gate)]
    log1 = (tmp_path / "worker1.log").open("wb")
    worker = subprocess.Popen(args, env=worker_env(first), stdout=log1, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: (gate / "blocked").exists() or worker.poll() is not None, 240)
        assert worker.poll() is None, (tmp_path / "worker1.log").read_text()[-3000:]
        # The application is mid-write: the output directory is being replaced, a task blocks.
        worker.kill()  # SIGKILL, as the OOM killer does
        worker.wait()
    finally:
        log1.close()
    (gate / "armed").unlink()

    env = {**worker_env(retry), "LUIGI_UFO_TEST_FORBID_TAG": first}
    done = subprocess.run(args, env=env, capture_output=True, timeout=400, check=False)
    (gate / "release").touch()  # lets a surviving orphan go on, as it would in real life
    log = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, log[-4000:]

    [live] = [int(p.read_text()) for p in gate.glob("live-at-start-*")]
    assert live == 0, f"the retry ran while {live} processes of the killed worker's run lived"
    assert wait_for(lambda: not tagged(first), 60), "the killed worker's application lives on"
    assert tagged(retry) == []
    partition = root / "2026-11-24"
    assert (partition / "_SUCCESS").exists()
    ids = [int(line) for p in sorted(partition.glob("part-*")) for line in p.read_text().split()]
    assert len(ids) == ROWS, f"{len(ids)} rows, {len(ids) - len(set(ids))} duplicates"
    assert sorted(ids) == list(range(ROWS))
    # A free lease leaves no lock file behind.
    assert list((tmp_path / "run").glob("lease-*")) == []


DRIVER_WORKER = """
import sys
import luigi
from probe_tasks import DriverWrites
task = DriverWrites(root=sys.argv[1], script_args=["--rows", sys.argv[2]])
sys.exit(0 if luigi.build([task], local_scheduler=True, workers=1) else 1)
"""
DRIVER_ROWS = 10


def member(kind: str, tag: str) -> psutil.Process:
    """The supervisor, the JVM or the Python driver among the processes tagged ``tag``."""
    for proc in tagged(tag):
        try:
            argv = proc.cmdline()
        except psutil.Error:
            continue
        script = argv[1] if len(argv) > 1 else ""
        if (
            (kind == "supervisor" and script.endswith("supervisor.py"))
            or (kind == "jvm" and proc.name() == "java")
            or (kind == "driver" and script.endswith("driver_writes.py"))
        ):
            return proc
    raise AssertionError(f"no {kind} among {[p.cmdline()[:2] for p in tagged(tag)]}")


def wait_at_pause(fifo: Path, worker: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the worker's driver sits at its pause point (it writes the point's name)."""
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ready, _, _ = select.select([reader], [], [], 0.5)
            if ready and os.read(reader, 100) == b"driver-before-write\n":
                return
            assert worker.poll() is None, log.read_text()[-3000:]
        raise AssertionError("the driver did not reach its pause point")
    finally:
        os.close(reader)


def release_paused(fifo: Path) -> bool:
    """Let a driver still paused at the point go on; return whether one was there."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # nobody has it open for reading: no driver waits there
            return False
        raise
    os.write(fd, b"go\n")
    os.close(fd)
    return True


def partition_ids(partition: Path) -> list[int]:
    return [int(n) for p in sorted(partition.glob("part-*")) for n in p.read_text().split()]


@pytest.mark.parametrize("victim", ["supervisor", "jvm", "driver"])
def test_whatever_dies_takes_the_application_along_and_the_retry_writes_exactly_once(
    tmp_path: Path, worker_env: Callable[[str], dict[str, str]], victim: str
) -> None:
    root, fifo = tmp_path / "lake", tmp_path / "pause.fifo"
    partition = root / "2026-11-24"
    os.mkfifo(fifo)
    first, retry = f"first-{uuid.uuid4().hex}", f"retry-{uuid.uuid4().hex}"
    args = [sys.executable, "-c", DRIVER_WORKER, str(root), str(DRIVER_ROWS)]
    env = {**worker_env(first), PAUSE_ENV: f"driver-before-write={fifo}"}
    log = tmp_path / "worker1.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        # The driver has its rows and is about to write them and the flag.
        wait_at_pause(fifo, worker, log)
        killed = member(victim, first)
        killed.send_signal(signal.SIGKILL)  # what the OOM killer does
        assert worker.wait(timeout=300) == 1, log.read_text()[-4000:]
    failure = log.read_text()
    # The task failed: at that moment nothing of its application may live on.
    survivors = [" ".join(p.cmdline()[:2]) for p in tagged(first)]
    flag_after_failure = (partition / "_SUCCESS").exists()

    done = subprocess.run(
        args, env=worker_env(retry), capture_output=True, timeout=400, check=False
    )
    retry_log = (done.stdout + done.stderr).decode(errors="replace")
    # A driver still waiting at the point goes on, as it would in real life.
    orphan_released = release_paused(fifo)
    wait_for(lambda: not tagged(first), 60)

    assert done.returncode == 0, retry_log[-4000:]
    assert "being written by another live Spark application" not in retry_log  # it ran at once
    ids = partition_ids(partition)
    outcome = {
        "survivors": survivors,
        "flag after the failure": flag_after_failure,
        "a driver still paused": orphan_released,
        "rows": len(ids),
    }
    assert outcome == {
        "survivors": [],
        "flag after the failure": False,
        "a driver still paused": False,
        "rows": DRIVER_ROWS,
    }
    assert sorted(ids) == list(range(DRIVER_ROWS))
    assert (partition / "_SUCCESS").exists()
    assert list((tmp_path / "run").glob("lease-*")) == []
    said = {
        "supervisor": f"the spark-submit supervisor (pid {killed.pid}) was killed by SIGKILL; "
        "spark-submit and every process of the application were stopped with it",
        "jvm": f"spark-submit (pid {killed.pid}, the driver JVM) was killed by SIGKILL (what "
        "the kernel's out-of-memory killer sends",
        "driver": "spark-submit exited with code 137: the driver's Python process was killed "
        "by SIGKILL",
    }[victim]
    assert f"Spark application failed: {said}" in failure, failure[-4000:]


RUNNER = """
import sys
from luigi_ufo.spark.submit.spec import SubmitSpec
from luigi_ufo.spark.submit.runner import SparkSubmitRunner
import json
spec = SubmitSpec(**json.loads(sys.argv[1]))
SparkSubmitRunner(spec, kill_grace_s=5.0).run()
"""


def _submitted_properties_file(tag: str) -> Path | None:
    for proc in tagged(tag):
        try:
            argv = proc.cmdline()
        except psutil.Error:
            continue
        if "--properties-file" in argv and "supervisor.py" not in " ".join(argv):
            return Path(argv[argv.index("--properties-file") + 1])
    return None


@pytest.fixture
def cluster_run(
    tmp_path: Path, spark_master: Any
) -> Iterator[Callable[[str], tuple[subprocess.Popen[bytes], Path]]]:
    """Start a worker process running a standalone-cluster run with a private properties file.

    Return the worker and the properties file spark-submit was given, once the application is
    blocked mid-job.
    """
    tags: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []

    def start(tag: str) -> tuple[subprocess.Popen[bytes], Path]:
        tags.append(tag)
        gate = tmp_path / f"gate-{tag}"
        gate.mkdir()
        (gate / "armed").touch()
        spec = {
            "app": str(SCRIPTS / "gated_rows.py"),
            "app_args": ["--output", str(tmp_path / tag), "--rows", "10", "--gate", str(gate)],
            "master": spark_master.master_url,
            "total_executor_cores": 1,
            "executor_memory": "512m",
            "conf": FAST_CONF,
            "env": {"LUIGI_UFO_TEST_TAG": tag, "SPARK_CONF_DIR": str(tmp_path / "no-conf")},
            "private_conf": {"spark.hadoop.fs.s3a.secret.key": f"sekret-{tag}"},
            "secrets": [f"sekret-{tag}"],
            "spark_submit": _spark_submit(),
        }
        env = {**os.environ, "LUIGI_UFO_RUNTIME_DIR": str(tmp_path / "run")}
        worker = subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(spec)], env=env)
        procs.append(worker)
        assert wait_for(lambda: (gate / "blocked").exists() or worker.poll() is not None, 240)
        assert worker.poll() is None, "the run ended before it blocked"
        found = _submitted_properties_file(tag)
        assert found is not None, "spark-submit was not given a properties file"
        return worker, found

    yield start
    for worker in procs:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    kill_tagged(*tags)
    for tag in tags:
        # The executors run on the cluster's worker, outside the tagged tree: let them finish.
        (tmp_path / f"gate-{tag}" / "release").touch()


def _spark_submit() -> str:
    from luigi_ufo.spark.settings import default_spark_submit

    return default_spark_submit()


def test_sigkilled_worker_leaves_no_properties_file(
    cluster_run: Callable[[str], tuple[subprocess.Popen[bytes], Path]],
) -> None:
    tag = f"props-{uuid.uuid4().hex}"
    worker, secret_file = cluster_run(tag)
    assert secret_file.exists()
    assert secret_file.stat().st_mode & 0o777 == 0o600
    worker.kill()
    worker.wait()
    assert wait_for(lambda: not secret_file.exists(), 60), f"{secret_file} outlived the worker"
    assert wait_for(lambda: not tagged(tag), 60), "spark-submit outlived the worker"


def test_properties_file_left_by_a_killed_worker_and_supervisor_is_swept_next_run(
    cluster_run: Callable[[str], tuple[subprocess.Popen[bytes], Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = f"props-{uuid.uuid4().hex}"
    worker, secret_file = cluster_run(tag)
    # Kill the worker and its supervisor at once (as a whole-cgroup OOM kill would).
    supervisor = psutil.Process(worker.pid).children()
    for proc in [psutil.Process(worker.pid), *supervisor]:
        proc.kill()
    worker.wait()
    assert wait_for(lambda: not tagged(tag), 60), "spark-submit outlived its supervisor"
    assert secret_file.exists(), "nothing was left to sweep: the test proves nothing"
    assert secret_file.name.startswith(PREFIX)

    # The next run that writes a properties file sweeps the dead run's one first.
    from luigi_ufo.spark.submit.properties import private_properties_file
    from luigi_ufo.spark.submit.spec import SubmitSpec

    monkeypatch.setenv("LUIGI_UFO_RUNTIME_DIR", str(tmp_path / "run"))
    spec = SubmitSpec(
        app="/s/job.py",
        master="spark://m:7077",
        env={"SPARK_CONF_DIR": str(tmp_path / "no-conf")},
        private_conf={"spark.hadoop.fs.s3a.secret.key": "x"},
    )
    with private_properties_file(spec, spec.env):
        assert not secret_file.exists()
