"""ExternalSparkScriptTask under luigi's multiprocessing workers with spawn and forkserver.

Luigi pickles a task to run it in a worker process under these start methods (forkserver is
Python 3.14's Linux default, spawn macOS's); luigi.contrib.spark.SparkSubmitTask fails there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPTS = Path(__file__).parent / "spark_scripts"
JVM_FAST = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"
FAST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.extraJavaOptions": JVM_FAST,
}
DRIVER = """
import multiprocessing, os, sys
import luigi

if __name__ == "__main__":
    multiprocessing.set_start_method(sys.argv[1])
    from probe_tasks import PidProbe

    result = luigi.build(
        [PidProbe(root=sys.argv[2])], workers=2, local_scheduler=True, detailed_summary=True
    )
    print("STATUS", result.status.name, "START", multiprocessing.get_start_method())
    print("CALLER", os.getpid())
    sys.exit(0 if result.status == luigi.LuigiStatusCode.SUCCESS else 1)
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_task_runs_in_worker_process(method: str, tmp_path: Path, spark_local_master: str) -> None:
    # Workers started by spawn re-read configuration from files, so it comes from one here.
    config = tmp_path / "luigi.cfg"
    config.write_text(
        "[spark_script]\n"
        f"scripts_dir = {SCRIPTS}\n"
        f"master = {spark_local_master}\n"
        f"conf = {json.dumps(FAST_CONF)}\n"
    )
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config), "PYTHONPATH": str(SCRIPTS)}
    done = subprocess.run(
        [sys.executable, str(driver), method, str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert f"STATUS SUCCESS START {method}" in done.stdout
    assert "pickl" not in done.stderr.lower()
    assert (tmp_path / "out" / "2026-11-24" / "_SUCCESS").exists()
    # The task ran in a worker process that luigi started with this start method.
    caller = re.search(r"CALLER (\d+)", done.stdout)
    assert caller is not None
    task_pid = (tmp_path / "out" / "task.pid").read_text()
    assert task_pid != caller.group(1)
