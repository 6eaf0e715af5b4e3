"""Under ``python -m luigi``: the script's lines reach the console once, Spark's INFO lines only
when asked for, luigid's status is final, and a luigid that dies mid-run fails nothing."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))  # probe_tasks computes the task ids the workers will use

from probe_tasks import EVENTS_ENV, FAST_CONF, DriverWrites, Probe  # noqa: E402

from luigi_ufo.pause_points import PAUSE_ENV  # noqa: E402
from luigi_ufo.testing.luigid import start_luigid  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: A user's own logging: Luigi's logger to one handler (not propagating), the rest to root's.
USER_LOGGING = """\
[loggers]
keys = root, luigi

[handlers]
keys = user, luigi

[formatters]
keys = user, luigi

[logger_root]
level = INFO
handlers = user

[logger_luigi]
qualname = luigi-interface
level = INFO
handlers = luigi
propagate = 0

[handler_user]
class = StreamHandler
formatter = user
args = (sys.stderr,)

[handler_luigi]
class = StreamHandler
formatter = luigi
args = (sys.stderr,)

[formatter_user]
format = USER %(name)s %(message)s

[formatter_luigi]
format = LUIGI %(message)s
"""


def luigi_argv(tmp_path: Path, url: str, task: str, *args: str, core: str = "") -> list[str]:
    """Write the worker's luigi.cfg under ``tmp_path``; return ``python -m luigi`` for ``task``."""
    scripts = tmp_path / "scripts"
    if not scripts.exists():
        shutil.copytree(SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "luigi.cfg"
    config.write_text(
        f"[core]\nautoload_range = false\n{core}\n"
        f"[spark_script]\nscripts_dir = {scripts}\nmaster = local[2]\n"
        f"conf = {json.dumps(FAST_CONF)}\n"
    )
    argv = [sys.executable, "-m", "luigi", "--module", "probe_tasks", task]
    return [*argv, "--scheduler-url", url, *args]


def worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LUIGI_CONFIG_PATH": str(tmp_path / "luigi.cfg"),
        "PYTHONPATH": os.pathsep.join([str(SCRIPTS), os.environ.get("PYTHONPATH", "")]),
        "LUIGI_UFO_RUNTIME_DIR": str(tmp_path / "run"),
        **extra,
    }


def run_luigi(tmp_path: Path, luigid: Any, *args: str) -> subprocess.CompletedProcess[str]:
    argv = luigi_argv(tmp_path, luigid.url, "Probe", *args)
    return subprocess.run(
        argv,
        cwd=tmp_path,
        env=worker_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


#: A log line of Spark's own (log4j's default pattern) as Luigi's console prints it.
SPARK_LINE = re.compile(r"^\w+: spark-submit: \d\d/\d\d/\d\d \d\d:\d\d:\d\d (\w+) ", re.M)


def test_default_logging_shows_spark_lines_and_progress_and_luigid_ends_on_done(
    tmp_path: Path, luigid: Any
) -> None:
    # One 6-task stage of 1 s tasks on local[2]: long enough for Spark's progress bar.
    script_args = ["--tasks", "6", "--sleep", "1"]
    task = Probe(root=str(tmp_path / "out"), script_args=script_args)
    done = run_luigi(
        tmp_path, luigid, "--root", task.root, "--script-args", json.dumps(script_args)
    )
    console = done.stderr
    assert done.returncode == 0, console[-4000:]
    assert console.count("INFO: spark-submit: probe VERSION=v1 mode=write\n") == 1, console
    assert "INFO: running " in console, console[-4000:]
    # Spark's own INFO lines (hundreds) are quiet; its warnings are not.
    assert Counter(SPARK_LINE.findall(console))["INFO"] == 0, console[-4000:]
    progress = [line for line in console.splitlines() if "tasks done" in line]
    assert any(f"INFO: {task.task_id}: " in line for line in progress), console[-4000:]
    final = re.compile(r"done: (application \S+|spark-submit exited 0) in \d+ s")
    assert re.search(f"INFO: {re.escape(task.task_id)}: {final.pattern}\n", console), console
    status = luigid.task_list("DONE")[task.task_id]["status_message"]
    assert final.fullmatch(status), status


def test_user_logging_prints_each_line_once_and_luigid_ends_on_failed(
    tmp_path: Path, luigid: Any
) -> None:
    (tmp_path / "logging.ini").write_text(USER_LOGGING)
    task = Probe(root=str(tmp_path / "out"), script_args=["--mode", "fail"])
    failed = run_luigi(
        tmp_path,
        luigid,
        "--root",
        task.root,
        "--script-args",
        '["--mode", "fail"]',
        "--logging-conf-file",
        str(tmp_path / "logging.ini"),
    )
    console = failed.stderr
    live = "spark-submit: probe VERSION=v1 mode=fail"
    assert console.count(f"USER luigi_ufo.spark {live}\n") == 1, console[-4000:]
    assert f"LUIGI {live}" not in console  # not a second time through Luigi's handler
    assert "LUIGI " in console  # Luigi's own lines still go where the user sent them
    status = luigid.task_list("FAILED")[task.task_id]["status_message"]
    assert status.startswith("failed after "), status
    assert "Spark application failed: spark-submit exited with code 1" in status


def test_spark_log_level_info_shows_sparks_info_lines(tmp_path: Path, luigid: Any) -> None:
    task = Probe(root=str(tmp_path / "out"))
    done = run_luigi(
        tmp_path, luigid, "--root", task.root, "--spark-script-spark-log-level", "INFO"
    )
    console = done.stderr
    assert done.returncode == 0, console[-4000:]
    assert Counter(SPARK_LINE.findall(console))["INFO"] > 50, console[-4000:]
    assert console.count("INFO: spark-submit: probe VERSION=v1 mode=write\n") == 1


def test_a_luigid_that_dies_mid_run_does_not_fail_a_run_whose_output_is_complete(
    tmp_path: Path,
) -> None:
    fifo, events = tmp_path / "pause.fifo", tmp_path / "events"
    os.mkfifo(fifo)
    root = tmp_path / "lake"
    scheduler = start_luigid()
    try:
        # Luigi's client retries a call to a dead luigid (3 x 30 s by default): once, at once.
        argv = luigi_argv(
            tmp_path,
            scheduler.url,
            "DriverWrites",
            *("--root", str(root), "--script-args", '["--rows", "10"]'),
            core="rpc-retry-attempts = 1\nrpc-retry-wait = 1\n",
        )
        env = worker_env(
            tmp_path, **{PAUSE_ENV: f"driver-before-write={fifo}", EVENTS_ENV: str(events)}
        )
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        worker = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 300
        while True:
            ready, _, _ = select.select([reader], [], [], 0.5)
            if ready and os.read(reader, 100) == b"driver-before-write\n":
                break
            assert worker.poll() is None, worker.communicate()[0].decode()[-4000:]
            assert time.monotonic() < deadline, "the driver did not reach its pause point"
        os.close(reader)
    finally:
        scheduler.stop()  # luigid dies while the application runs
    with open(fifo, "w") as release:
        release.write("go\n")
    out = worker.communicate(timeout=300)[0].decode(errors="replace")
    task = DriverWrites(root=str(root), script_args=["--rows", "10"])
    # The worker judged the task a success (telling luigid so is Luigi's business, and failed).
    assert events.read_text().splitlines() == [f"{task.task_id} SUCCESS"], out[-4000:]
    assert "could not report the progress to the Luigi scheduler" in out, out[-4000:]
    partition = root / "2026-11-24"
    assert (partition / "_SUCCESS").exists()
    ids = [int(n) for p in partition.glob("part-*") for n in p.read_text().split()]
    assert sorted(ids) == list(range(10))
