"""Partition leases and the private runtime directory, with real processes holding locks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from luigi_ufo.errors import ConfigError, LeaseError
from luigi_ufo.paths import RUNTIME_DIR_ENV, runtime_dir
from luigi_ufo.services.process import ProcessRef
from luigi_ufo.spark.lease import (
    LEASE_ENV,
    lease_key,
    lease_path,
    lease_tag,
    partition_leases,
    release_unused,
)
from luigi_ufo.spark.submit import properties
from luigi_ufo.spark.submit.spec import SubmitSpec

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, b"%d\\n" % os.getpid(), 0)
print("held", flush=True)
time.sleep(300)
"""


@pytest.fixture(autouse=True)
def private_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(path))
    return path


def hold(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def test_runtime_dir_is_private(private_runtime: Path) -> None:
    assert runtime_dir() == private_runtime
    assert private_runtime.stat().st_mode & 0o777 == 0o700


def test_runtime_dir_readable_by_others_is_refused(private_runtime: Path) -> None:
    private_runtime.mkdir(mode=0o755)
    private_runtime.chmod(0o755)
    with pytest.raises(ConfigError, match=r"not a private directory .*\(mode 755"):
        runtime_dir()


def test_keys_name_one_partition_however_spelled(tmp_path: Path) -> None:
    assert lease_key("s3://b/ds/2024-01-01/") == lease_key("s3a://b/ds/2024-01-01")
    assert lease_key("s3n://b/ds/2024-01-01") == "s3a://b/ds/2024-01-01"
    assert lease_key("S3://b/ds/2024-01-01") == "s3a://b/ds/2024-01-01"  # any case of scheme
    assert lease_key(str(tmp_path / "ds" / "2024-01-01") + "/") == str(tmp_path / "ds/2024-01-01")
    assert lease_path("s3a://b/x") != lease_path("s3a://b/y")


def test_a_live_holder_makes_a_retry_wait_then_fail_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uri = "s3a://bucket/ds/2024-01-01"
    holder = hold(lease_path(uri))
    try:
        with (
            caplog.at_level(logging.WARNING, logger="luigi_ufo.spark"),
            pytest.raises(LeaseError) as caught,
            partition_leases([uri], timeout_s=1.0),
        ):
            pass
        message = str(caught.value)
        assert f"partition {uri!r} is still being written" in message
        assert f"(pid {holder.pid}," in message
        assert f"`kill {holder.pid}`" in message
        assert any(f"pid {holder.pid}" in m and "waiting up to" in m for m in caplog.messages)
    finally:
        stop(holder)
    # The OS released the dead holder's lock: the lease is free now.
    with partition_leases([uri], timeout_s=1.0) as held:
        assert len(held.fds) == 1
        assert lease_path(uri).read_text() == f"{os.getpid()}\n"


def test_a_child_given_the_lease_keeps_it_after_the_parent_closes_it() -> None:
    uri = "/lake/ds/2024-01-01"
    with partition_leases([uri], timeout_s=1.0) as held:
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(300)"], pass_fds=held.fds
        )
        held.close()
    try:
        with pytest.raises(LeaseError), partition_leases([uri], timeout_s=0.5):
            pass
    finally:
        child.kill()
        child.wait()
    with partition_leases([uri], timeout_s=1.0):
        pass


SLEEPER = "import time; print('up', flush=True); time.sleep(300)"


def carrying(tags: str) -> subprocess.Popen[str]:
    """A process whose environment says it writes under the leases ``tags`` (an orphan)."""
    env = {**os.environ, LEASE_ENV: tags}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPER], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up\n"
    return proc


def test_a_process_still_carrying_the_lease_is_stopped_before_it_is_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri, other = str(tmp_path / "lake" / "2024-01-01"), str(tmp_path / "lake" / "2024-01-02")
    # Left by a dead application (worker, supervisor and JVM gone): no lock, but still writing.
    orphan = carrying(f"{lease_tag(other)},{lease_tag(uri)}")
    bystander = carrying(lease_tag(other))
    try:
        with (
            caplog.at_level(logging.WARNING, logger="luigi_ufo.spark"),
            partition_leases([uri], timeout_s=1.0) as held,
        ):
            assert orphan.poll() is not None, "an orphan writing the partition still lives"
            assert bystander.poll() is None, "a process writing another partition was stopped"
            assert held.environment() == {LEASE_ENV: lease_tag(uri)}
        assert f"stopped 1 process(es) left by a dead Spark application writing {uri}" in (
            caplog.text
        )
        assert f"(pids {orphan.pid})" in caplog.text
    finally:
        stop(orphan)
        stop(bystander)


def test_a_lease_tag_belongs_to_one_runtime_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = str(tmp_path / "lake" / "2024-01-01")
    here = lease_tag(uri)
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(tmp_path / "elsewhere"))
    assert lease_tag(uri) != here  # another set of leases: its writers are not ours to stop
    assert lease_tag(uri) == lease_tag(uri + "/")


def test_release_unused_deletes_only_free_lock_files() -> None:
    free, busy = "s3a://b/free", "s3a://b/busy"
    with partition_leases([free], timeout_s=1.0):
        pass
    holder = hold(lease_path(busy))
    try:
        release_unused([free, busy])
        assert not lease_path(free).exists()
        assert lease_path(busy).exists()
    finally:
        stop(holder)


def dead_tag() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    ref = ProcessRef.of(proc.pid)
    assert ref is not None
    proc.kill()
    proc.wait()
    return ref.tag


def test_properties_file_of_a_dead_run_is_swept_by_the_next(private_runtime: Path) -> None:
    private_runtime.mkdir(mode=0o700)
    left = private_runtime / f"{properties.PREFIX}{dead_tag()}-abc.properties"
    left.write_text("spark.hadoop.fs.s3a.secret.key=s3cr3t\n")
    mine = private_runtime / f"{properties.PREFIX}{ProcessRef.current().tag}-def.properties"
    mine.write_text("in use by a live run\n")
    spec = SubmitSpec(
        app="/s/job.py",
        master="spark://m:7077",
        env={"SPARK_CONF_DIR": "/nonexistent"},
        private_conf={"spark.hadoop.fs.s3a.secret.key": "x"},
    )
    with properties.private_properties_file(spec, spec.env) as written:
        assert written.properties_file is not None
        path = Path(written.properties_file)
        assert path.parent == private_runtime
        assert path.stat().st_mode & 0o777 == 0o600
    assert not left.exists()
    assert mine.exists()
    assert not path.exists()


def test_a_run_without_credentials_sweeps_too(private_runtime: Path) -> None:
    private_runtime.mkdir(mode=0o700)
    left = private_runtime / f"{properties.PREFIX}{dead_tag()}-abc.properties"
    left.write_text("spark.hadoop.fs.s3a.secret.key=s3cr3t\n")
    spec = SubmitSpec(app="/s/job.py", master="local[2]")
    with properties.private_properties_file(spec, {}) as same:
        assert same is spec
    assert not left.exists()
