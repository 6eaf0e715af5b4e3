"""A child pytest session uses every service fixture; afterwards no process it spawned lives.

Every process the child starts inherits a marker environment variable, so the parent can find
survivors by environment, whoever adopted them after the child exited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MARK_VAR = "LUIGI_UFO_LEAK_MARK"

CHILD_TESTS = textwrap.dedent(
    """
    import json, os
    from pathlib import Path

    import psutil

    def marked():
        found = {}
        for proc in psutil.process_iter(["pid", "name", "status"]):
            try:
                if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                    continue
                if proc.environ().get("LUIGI_UFO_LEAK_MARK") == os.environ["LUIGI_UFO_LEAK_MARK"]:
                    found[proc.pid] = proc.info["name"]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return found

    def test_services_run(postgres_dsn, s3_bucket, spark_master, luigid):
        Path(os.environ["LUIGI_UFO_LEAK_PIDS"]).write_text(json.dumps(marked()))
        assert luigid.task_list() == {}

    def test_fails_on_purpose(postgres_dsn, luigid):
        assert postgres_dsn == "deliberately wrong"
    """
)


def _survivors(mark: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for proc in psutil.process_iter(["pid", "name", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(MARK_VAR) == mark:
                found[proc.pid] = f"{proc.info['name']}: {' '.join(proc.cmdline())[:200]}"
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def test_child_session_leaves_no_process_and_reports_log_tails(tmp_path: Path) -> None:
    (tmp_path / "test_child.py").write_text(CHILD_TESTS)
    mark = uuid.uuid4().hex
    pids_file = tmp_path / "pids.json"
    env = {
        # Without PYTEST_ADDOPTS: CI's --junitxml of this session is not the child's.
        **{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
        MARK_VAR: mark,
        "LUIGI_UFO_LEAK_PIDS": str(pids_file),
        # Load the plugin explicitly, as a project without the entry point would.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    argv = [sys.executable, "-m", "pytest", "-p", "luigi_ufo.testing.plugin", "-p", "pytester"]
    argv += ["-q", "-p", "no:cacheprovider", "test_child.py"]
    proc = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-4000:]
    assert "1 failed, 1 passed" in output, output[-4000:]
    # The deliberate failure carries the tails of the services it used, and only those.
    assert "postgres log tail" in output
    assert "luigid log tail" in output
    assert "spark log tail" not in output

    spawned = {int(pid): name for pid, name in json.loads(pids_file.read_text()).items()}
    names = set(spawned.values())
    assert "postgres" in names, spawned
    assert "java" in names, spawned  # Spark master and worker
    deadline = time.monotonic() + 10
    while (left := _survivors(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == {}
