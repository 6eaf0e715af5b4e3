"""ExternalSparkScriptTask against real spark-submit: local[2], standalone, failures, kill, S3."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import luigi
import pytest

from luigi_ufo.errors import MissingOutputError, SparkSubmitError

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))  # probe_tasks must be importable by name (spawned workers too)

from probe_tasks import FAST_CONF, Probe, TimedProbe  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SetConfig = Callable[[str, str, str], None]


@pytest.fixture
def scripts(tmp_path: Path, luigi_config: SetConfig, spark_local_master: str) -> Path:
    """Copy the probe scripts to a fresh scripts dir and point [spark_script] at local[2]."""
    root = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, root, ignore=shutil.ignore_patterns("__pycache__"))
    luigi_config("spark_script", "scripts_dir", str(root))
    luigi_config("spark_script", "master", spark_local_master)
    luigi_config("spark_script", "conf", json.dumps(FAST_CONF))
    return root


def build(task: luigi.Task, **kwargs: Any) -> luigi.execution_summary.LuigiRunResult:
    kwargs.setdefault("local_scheduler", True)
    return luigi.build([task], detailed_summary=True, log_level="WARNING", **kwargs)


def part_text(partition: Path) -> str:
    return "".join(p.read_text() for p in sorted(partition.glob("part-*")))


def tagged_pids(tag: str) -> list[int]:
    """Return live processes whose environment carries ``tag`` (the whole Spark tree)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if tag.encode() in environ and state != "Z":
            found.append(int(entry))
    return found


def test_local_run_progress_in_luigid_and_edits_apply_next_run(
    scripts: Path, tmp_path: Path, luigid: Any
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("a\nb\nc\nd\n")
    # One 6-task stage of 1 s tasks on local[2]: long enough for Spark's progress bar (>0.5 s).
    first = Probe(
        root=str(tmp_path / "first"),
        source=str(source),
        script_args=["--tasks", "6", "--sleep", "1"],
    )
    with _luigid_progress(luigid, first.task_id) as (seen, messages):
        result = build(
            first, local_scheduler=False, scheduler_host=luigid.host, scheduler_port=luigid.port
        )
    assert result.status == luigi.LuigiStatusCode.SUCCESS
    out = tmp_path / "first" / "2026-11-24"
    assert (out / "_SUCCESS").exists()
    # probe.py writes (id, version, line count of its --input) for ids 0..2.
    assert part_text(out).splitlines() == ["0,v1,4", "1,v1,4", "2,v1,4"]
    # Each Spark job starts again at 0 %, so values need not be monotonic over the whole run.
    assert any(0 < p < 100 for p in seen), seen
    assert any("tasks done" in m for m in messages), messages
    assert luigid.task_list("DONE")[first.task_id]["progress_percentage"] == 100

    script = scripts / "probe.py"
    script.write_text(script.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    second = Probe(root=str(tmp_path / "second"))
    assert build(second).status == luigi.LuigiStatusCode.SUCCESS
    assert part_text(tmp_path / "second" / "2026-11-24").splitlines() == [
        "0,v2,0",
        "1,v2,0",
        "2,v2,0",
    ]


@contextlib.contextmanager
def _luigid_progress(luigid: Any, task_id: str) -> Iterator[tuple[list[int], list[str]]]:
    """Poll luigid's API for the task's progress percentage and status message meanwhile."""
    seen: list[int] = []
    messages: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            entry = luigid.task_list().get(task_id)
            if entry is not None:
                if entry.get("progress_percentage") is not None:
                    seen.append(int(entry["progress_percentage"]))
                if entry.get("status_message"):
                    messages.append(entry["status_message"])
            time.sleep(0.25)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        yield seen, messages
    finally:
        stop.set()
        poller.join()


def test_failure_reports_traceback_and_masks_secrets(
    scripts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"sekret-{uuid.uuid4().hex}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    task = Probe(
        root=str(tmp_path / "out"),
        script_args=["--mode", "fail", "--echo-env", "AWS_SECRET_ACCESS_KEY"],
    )
    with pytest.raises(SparkSubmitError) as caught:
        task.run()
    message = str(caught.value)
    assert "spark-submit exited with code 1" in message
    assert "Traceback (most recent call last):" in message
    assert "ValueError: probe failed on purpose (bad row 42)" in message
    assert "probe AWS_SECRET_ACCESS_KEY=***" in message
    assert "bin/spark-submit --master" in message
    assert "--mode fail" in message
    assert secret not in message
    assert os.environ["PATH"] not in message
    assert not (tmp_path / "out" / "2026-11-24" / "_SUCCESS").exists()


def test_exit_zero_without_output_is_a_failure(scripts: Path, tmp_path: Path) -> None:
    task = Probe(root=str(tmp_path / "out"), script_args=["--mode", "nothing"])
    with pytest.raises(MissingOutputError, match=r"spark-submit exited 0 but 1 output\(s\)"):
        task.run()


def test_timeout_kills_the_application(scripts: Path, tmp_path: Path) -> None:
    tag = f"probe-{uuid.uuid4().hex}"
    task = TimedProbe(
        root=str(tmp_path / "out"),
        timeout=10.0,
        tag=tag,
        script_args=["--mode", "slow", "--tasks", "2", "--sleep", "300"],
    )
    started = time.monotonic()
    with pytest.raises(SparkSubmitError, match="timed out after 10 s") as caught:
        task.run()
    assert time.monotonic() - started < 60
    assert "killed process group" in str(caught.value)
    assert survivors(tag) == []
    assert not (tmp_path / "out" / "2026-11-24" / "_SUCCESS").exists()


def test_sigterm_to_worker_kills_the_application(scripts: Path, tmp_path: Path) -> None:
    """A worker told to stop (luigi's worker_timeout, a supervisor) takes its Spark app along."""
    tag = f"probe-{uuid.uuid4().hex}"
    config = tmp_path / "luigi.cfg"
    config.write_text(
        f"[spark_script]\nscripts_dir = {scripts}\nmaster = local[2]\n"
        f"conf = {json.dumps(FAST_CONF)}\n"
    )
    code = (
        "import luigi, sys\n"
        "from probe_tasks import Probe\n"
        f"task = Probe(root={str(tmp_path / 'out')!r}, script_args=['--mode', 'slow', "
        "'--tasks', '2', '--sleep', '300'])\n"
        "luigi.build([task], local_scheduler=True)\n"
    )
    env = {
        **os.environ,
        "LUIGI_CONFIG_PATH": str(config),
        "PYTHONPATH": str(SCRIPTS),
        "LUIGI_UFO_TEST_TAG": tag,
    }
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        # Wait for the Python driver (a grandchild of spark-submit) to exist, then stop the worker.
        while time.monotonic() < deadline and not _has_python_driver(tag, proc.pid):
            time.sleep(0.3)
        assert _has_python_driver(tag, proc.pid), "the Spark driver never started"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"terminated by SIGTERM" in err
    assert survivors(tag) == []
    assert not (tmp_path / "out" / "2026-11-24" / "_SUCCESS").exists()


def survivors(tag: str, timeout: float = 15.0) -> list[str]:
    """Command lines of processes carrying ``tag`` still alive after ``timeout`` s (exits lag)."""
    deadline = time.monotonic() + timeout
    while (pids := tagged_pids(tag)) and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            lines.append(
                f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            )
    return lines


def _has_python_driver(tag: str, parent: int) -> bool:
    for pid in tagged_pids(tag):
        if pid == parent:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        argv = cmdline.split(b"\0")
        if Path(argv[0].decode()).name.startswith("python") and b"probe.py" in cmdline:
            return True
    return False


def test_standalone_master(
    scripts: Path, tmp_path: Path, spark_master: Any, luigi_config: SetConfig
) -> None:
    luigi_config("spark_script", "master", spark_master.master_url)
    luigi_config("spark_script", "total_executor_cores", "1")
    luigi_config("spark_script", "executor_memory", "512m")
    task = Probe(root=str(tmp_path / "out"))
    with _log_lines() as lines:
        assert build(task).status == luigi.LuigiStatusCode.SUCCESS
    assert part_text(tmp_path / "out" / "2026-11-24").splitlines() == [
        "0,v1,0",
        "1,v1,0",
        "2,v1,0",
    ]
    assert any("app-" in line for line in lines), "no standalone application id logged"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def _log_lines() -> Iterator[list[str]]:
    handler = _Collect()
    log = logging.getLogger("luigi_ufo.spark")
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        log.removeHandler(handler)
        log.setLevel(old)


def test_no_secret_in_cmdline_with_s3(
    scripts: Path,
    tmp_path: Path,
    luigi_config: SetConfig,
    s3_endpoint: str,
    s3_bucket: str,
    s3a_jars: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = f"sekret-{uuid.uuid4().hex}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    luigi_config("s3_endpoint", "endpoint_url", s3_endpoint)
    luigi_config("s3_endpoint", "path_style", "true")
    luigi_config("spark_script", "jars", json.dumps(s3a_jars))
    tag = f"probe-{uuid.uuid4().hex}"
    task = Probe(
        root=f"s3://{s3_bucket}/probe",
        script_args=["--mode", "slow", "--tasks", "2", "--sleep", "2", "--tag", tag],
    )
    cmdlines: list[bytes] = []
    environs: list[bytes] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                    environ = Path(f"/proc/{entry}/environ").read_bytes()
                except OSError:
                    continue
                if tag.encode() in cmdline:
                    cmdlines.append(cmdline)
                    environs.append(environ)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert build(task).status == luigi.LuigiStatusCode.SUCCESS
    finally:
        stop.set()
        watcher.join()
    assert task.output().exists()
    assert cmdlines, "spark-submit was never seen in /proc"
    assert all(secret.encode() not in c for c in cmdlines)
    assert any(b"s3a://" in c for c in cmdlines)
    # The secret reached Spark, by environment.
    assert any(f"AWS_SECRET_ACCESS_KEY={secret}".encode() in e for e in environs)


def test_standalone_s3_credentials_travel_only_by_private_properties_file(
    scripts: Path,
    luigi_config: SetConfig,
    spark_master: Any,
    s3_endpoint: str,
    s3_bucket: str,
    s3a_jars: list[str],
    aws_credentials: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Executors on a cluster read and write s3a:// with keys from nowhere but the 0600 file.

    The keys live only in the AWS credentials file: spark-submit's environment has none, argv
    has none, and the file pins s3a's provider to its own keys, so the worker's (fake) AWS_*
    variables cannot stand in. Without the properties file s3a finds no credentials and fails.
    """
    access, secret = f"AKID{uuid.uuid4().hex[:16].upper()}", f"sekret-{uuid.uuid4().hex}"
    Path(aws_credentials["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[default]\naws_access_key_id = {access}\naws_secret_access_key = {secret}\n"
    )
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    luigi_config("s3_endpoint", "endpoint_url", s3_endpoint)
    luigi_config("s3_endpoint", "path_style", "true")
    luigi_config("spark_script", "master", spark_master.master_url)
    luigi_config("spark_script", "total_executor_cores", "1")
    luigi_config("spark_script", "executor_memory", "512m")
    luigi_config("spark_script", "jars", json.dumps(s3a_jars))
    from luigi_ufo.s3 import S3Settings, make_client

    client = make_client(S3Settings(endpoint_url=s3_endpoint, path_style=True))
    client.put_object(Bucket=s3_bucket, Key="in/words.txt", Body=b"a\nb\nc\n")
    tag = f"probe-{uuid.uuid4().hex}"
    task = Probe(
        root=f"s3://{s3_bucket}/probe",
        source=f"s3a://{s3_bucket}/in/words.txt",
        script_args=["--tag", tag],
    )
    with _ProcessWatch(tag, secret) as seen:
        task.run()  # run() directly: the S3 input is no LocalTarget a scheduler could check
    assert seen.tagged_cmdlines, "spark-submit was never seen in /proc"
    assert seen.secret_in_cmdline == [], "a process had the secret key in its argv"
    tagged_env = b"\n".join(seen.tagged_environs)
    assert secret.encode() not in tagged_env
    assert b"AWS_ACCESS_KEY_ID=" not in tagged_env
    assert b"AWS_SECRET_ACCESS_KEY=" not in tagged_env
    [props] = {p for p, _ in seen.properties_files}
    assert {mode for _, mode in seen.properties_files} == {0o600}
    assert not Path(props).exists(), "the temporary properties file outlived the run"
    # Executors counted the S3 input (3 lines) and wrote the S3 output with the file's keys.
    assert list(task.output().read_text()) == ["0,v1,3\n", "1,v1,3\n", "2,v1,3\n"]


class _ProcessWatch:
    """Poll /proc while a run lasts: argv/environ of tagged processes, secret in any argv."""

    def __init__(self, tag: str, secret: str) -> None:
        self.tag, self.secret = tag.encode(), secret.encode()
        self.tagged_cmdlines: list[bytes] = []
        self.tagged_environs: list[bytes] = []
        self.secret_in_cmdline: list[bytes] = []
        self.properties_files: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch)

    def __enter__(self) -> _ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    self._look(Path("/proc", entry))
            time.sleep(0.2)

    def _look(self, proc: Path) -> None:
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            return
        if self.secret in cmdline:
            self.secret_in_cmdline.append(cmdline)
        if self.tag not in cmdline:
            return
        self.tagged_cmdlines.append(cmdline)
        with contextlib.suppress(OSError):
            self.tagged_environs.append((proc / "environ").read_bytes())
        argv = cmdline.split(b"\0")
        if b"--properties-file" in argv:
            path = argv[argv.index(b"--properties-file") + 1].decode()
            with contextlib.suppress(OSError):
                self.properties_files.append((path, os.stat(path).st_mode & 0o777))
