"""Connect mode shows what submit mode shows, masked alike, and leaves no lease file.

Under ``python -m luigi``'s default logging the script's lines, progress and final status reach
the console; a secret the script writes on any channel (stdout, stderr, logging, warnings, its
traceback) is masked in the console, the log, the exception text and luigid's status and error
page (issues 21 and 22).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import luigi
import pytest

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))  # probe_tasks computes the task ids the workers will use

from probe_tasks import ConnectProbe, DatedEchoProbe  # noqa: E402

from luigi_ufo.errors import BackfillError  # noqa: E402
from luigi_ufo.spark import SparkBackfill  # noqa: E402
from tests.integration.test_spark_secrets import all_logs, fetch_error  # noqa: E402, F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Credential variables of every kind the plugin masks: documented names and secret_env.
ECHO = ["PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "MY_API_TOKEN"]
CHANNELS = {
    "stdout": "via-stdout",
    "stderr": "via-stderr",
    "logging": "WARNING:myjob:via-logging",
    "warnings": "UserWarning: via-warnings",
    "traceback": "ValueError: via-traceback",
}


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {name: f"CANARY{name.lower()}{uuid.uuid4().hex[:12]}" for name in ECHO}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run_luigi(
    tmp_path: Path, luigid: Any, spark_connect: Any, *args: str
) -> subprocess.CompletedProcess[str]:
    """``python -m luigi`` with its default logging, in connect mode, against ``luigid``."""
    config = tmp_path / "luigi.cfg"
    config.write_text(
        "[core]\nautoload_range = false\n\n"
        f"[spark_script]\nscripts_dir = {SCRIPTS}\nmode = connect\n"
        f"connect_url = {spark_connect.url}\nsecret_env = {json.dumps(['MY_API_TOKEN'])}\n"
    )
    env = {
        **os.environ,
        "LUIGI_CONFIG_PATH": str(config),
        "LUIGI_UFO_RUNTIME_DIR": str(tmp_path / "run"),
        "PYTHONPATH": os.pathsep.join([str(SCRIPTS), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "luigi", "--module", "probe_tasks", "ConnectProbe"]
    argv += ["--scheduler-url", luigid.url, *args]
    return subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_default_logging_shows_the_script_s_lines_progress_and_final_status(
    tmp_path: Path, luigid: Any, spark_connect: Any
) -> None:
    """Issue 21 item 5: under default logging a Connect script's lines reached no handler."""
    script_args = ["--tasks", "6", "--sleep", "1"]  # one 6-task stage of 1 s tasks on local[2]
    task = ConnectProbe(root=str(tmp_path / "out"), script_args=script_args)
    done = run_luigi(
        tmp_path,
        luigid,
        spark_connect,
        "--root",
        task.root,
        "--script-args",
        json.dumps(script_args),
    )
    console = done.stderr
    assert done.returncode == 0, console[-4000:]
    assert console.count("INFO: connect_probe.py: connect_probe VERSION=v1 mode=write\n") == 1
    progress = [line for line in console.splitlines() if "tasks done" in line]
    assert any(f"INFO: {task.task_id}: Spark Connect operation " in p for p in progress), console
    final = re.compile(r"done: main\(\) returned 0 in \d+ s")
    assert re.search(f"INFO: {re.escape(task.task_id)}: {final.pattern}\n", console), console
    status = luigid.task_list("DONE")[task.task_id]["status_message"]
    assert final.fullmatch(status), status
    # Its lease was freed, and its lock file with it (as in submit mode).
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == []


def test_secrets_on_every_channel_are_masked_on_the_console(
    tmp_path: Path, luigid: Any, spark_connect: Any, canaries: dict[str, str]
) -> None:
    """Issue 22 item 1: Connect mode masked stdout only."""
    script_args = ["--mode", "channels", "--echo-env", *ECHO]
    task = ConnectProbe(root=str(tmp_path / "out"), script_args=script_args)
    failed = run_luigi(
        tmp_path,
        luigid,
        spark_connect,
        "--root",
        task.root,
        "--script-args",
        json.dumps(script_args),
    )
    console = failed.stdout + failed.stderr
    shown = " ".join(f"{name}=***" for name in ECHO)
    for channel, prefix in CHANNELS.items():
        assert f"{prefix} {shown}" in console, (channel, console[-4000:])
    error = fetch_error(luigid, task.task_id)
    status = luigid.task_list("FAILED")[task.task_id]["status_message"]
    assert f"ValueError: via-traceback {shown}" in error
    for name, value in canaries.items():
        for where, text in (("console", console), ("error page", error), ("status", status)):
            assert value not in text, f"{name} on the {where}"


def test_secrets_on_every_channel_are_masked_in_the_log_and_the_exception(
    tmp_path: Path,
    luigid: Any,
    spark_connect: Any,
    canaries: dict[str, str],
    all_logs: list[str],  # noqa: F811
    luigi_config: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The same run in this process: the log, the worker's own stdio, the exception text."""
    luigi_config("spark_script", "scripts_dir", str(SCRIPTS))
    luigi_config("spark_script", "mode", "connect")
    luigi_config("spark_script", "connect_url", spark_connect.url)
    luigi_config("spark_script", "secret_env", json.dumps(["MY_API_TOKEN"]))
    task = ConnectProbe(
        root=str(tmp_path / "out"), script_args=["--mode", "channels", "--echo-env", *ECHO]
    )
    with pytest.raises(Exception) as info:  # noqa: PT011 - any error: its text is what counts
        task.run()
    result = luigi.build(
        [task], detailed_summary=True, scheduler_host=luigid.host, scheduler_port=luigid.port
    )
    assert result.status == luigi.LuigiStatusCode.FAILED
    logged = "\n".join(all_logs)
    shown = " ".join(f"{name}=***" for name in ECHO)
    for channel, prefix in CHANNELS.items():
        assert f"{prefix} {shown}" in logged, (channel, logged[-4000:])
    printed = capfd.readouterr()
    texts = {
        "log": logged,
        "exception": str(info.value),
        "worker's stdout": printed.out,
        "worker's stderr": printed.err,
        "luigid's error page": fetch_error(luigid, task.task_id),
        "luigid's status": luigid.task_list("FAILED")[task.task_id]["status_message"],
    }
    for name, value in canaries.items():
        for where, text in texts.items():
            assert value not in text, f"{name} in the {where}"


def test_a_backfill_s_script_output_and_errors_are_masked_alike(
    tmp_path: Path,
    spark_connect: Any,
    canaries: dict[str, str],
    all_logs: list[str],  # noqa: F811
    luigi_config: Any,
) -> None:
    """SparkBackfill's Connect path runs the same script process as a task (issue 21, item 6)."""
    luigi_config("spark_script", "scripts_dir", str(SCRIPTS))
    luigi_config("spark_script", "mode", "connect")
    luigi_config("spark_script", "connect_url", spark_connect.url)
    luigi_config("spark_script", "secret_env", json.dumps(["MY_API_TOKEN"]))
    day = datetime.date(2024, 5, 1)
    backfill = SparkBackfill(
        of=DatedEchoProbe,
        start=day,
        stop=day + datetime.timedelta(days=1),
        of_params={"root": str(tmp_path / "lake"), "echo_env": ECHO},
    )
    with pytest.raises(BackfillError) as info:
        backfill.run()
    shown = " ".join(f"{name}=***" for name in ECHO)
    assert f"{day} failed: ValueError: via-traceback {shown}" in str(info.value)
    logged = "\n".join(all_logs)
    for channel, prefix in CHANNELS.items():
        assert f"{prefix} {shown}" in logged, (channel, logged[-4000:])
    for name, value in canaries.items():
        assert value not in logged, f"{name} in the log"
        assert value not in str(info.value), f"{name} in the error"
