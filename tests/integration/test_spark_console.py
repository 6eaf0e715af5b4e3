"""Under ``python -m luigi`` Spark's lines reach the console, once, and luigid's status is final."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))  # probe_tasks computes the task ids the workers will use

from probe_tasks import FAST_CONF, Probe  # noqa: E402

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


def run_luigi(tmp_path: Path, luigid: Any, *args: str) -> subprocess.CompletedProcess[str]:
    scripts = tmp_path / "scripts"
    if not scripts.exists():
        shutil.copytree(SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "luigi.cfg"
    config.write_text(
        "[core]\nautoload_range = false\n\n"
        f"[spark_script]\nscripts_dir = {scripts}\nmaster = local[2]\n"
        f"conf = {json.dumps(FAST_CONF)}\n"
    )
    env = {
        **os.environ,
        "LUIGI_CONFIG_PATH": str(config),
        "PYTHONPATH": os.pathsep.join([str(SCRIPTS), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "luigi", "--module", "probe_tasks", "Probe"]
    argv += ["--scheduler-url", luigid.url, *args]
    return subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )


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
