"""Progress reaches Luigi (and ``luigi-ufo run``'s display) as Spark's stages move and end.

A real Luigi worker runs stages.py through the same reporting scheduler ``luigi-ufo run`` uses
(``cli_progress.reporting``), with a sink that records every report. The driver stops at a
pause point after its stages, so the test sees what was reported by then, deterministically.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from luigi_ufo.pause_points import PAUSE_ENV

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))

from probe_tasks import FAST_CONF  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER = """
import json, sys
import luigi
from luigi_ufo.cli.progress import reporting
from probe_tasks import Stages


class Recorder:
    def __init__(self, path):
        self.path = path

    def _write(self, kind, value):
        with open(self.path, "a") as fh:
            fh.write(json.dumps([kind, value]) + "\\n")

    def started(self, key, label):
        self._write("started", label)

    def percent(self, key, value):
        self._write("percent", value)

    def status(self, key, message):
        self._write("status", message)

    def finished(self, key, ok):
        self._write("finished", ok)

    def close(self):
        pass


with reporting(Recorder(sys.argv[2])) as factory:
    ok = luigi.build([Stages(root=sys.argv[1])], worker_scheduler_factory=factory,
                     local_scheduler=True)
sys.exit(0 if ok else 1)
"""


def reports(path: Path) -> list[tuple[str, Any]]:
    if not path.exists():
        return []
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]  # type: ignore[misc]


#: The longer stage, ended (status messages may say the application id first).
ENDED = "Stage 1: 6/6 tasks done, 0 running"


def stages_ended(recorded: list[tuple[str, Any]]) -> bool:
    percents = [v for kind, v in recorded if kind == "percent"]
    statuses = [v for kind, v in recorded if kind == "status"]
    return percents[-1:] == [100] and bool(statuses) and statuses[-1].endswith(ENDED)


def test_progress_moves_with_the_stages_and_reaches_100_when_they_end(
    tmp_path: Path, spark_local_master: str
) -> None:
    config = tmp_path / "luigi.cfg"
    config.write_text(
        f"[spark_script]\nscripts_dir = {SCRIPTS}\nmaster = {spark_local_master}\n"
        f"conf = {json.dumps(FAST_CONF)}\n"
    )
    fifo, recorded = tmp_path / "pause.fifo", tmp_path / "reports.jsonl"
    os.mkfifo(fifo)
    env = {
        **os.environ,
        "LUIGI_CONFIG_PATH": str(config),
        "PYTHONPATH": str(SCRIPTS),
        "LUIGI_UFO_RUNTIME_DIR": str(tmp_path / "run"),
        PAUSE_ENV: f"after-stages={fifo}",
    }
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tmp_path / "out"), str(recorded)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            ready, _, _ = select.select([reader], [], [], 0.5)
            if ready and os.read(reader, 100) == b"after-stages\n":
                break
            assert worker.poll() is None, worker.communicate()[0].decode()[-4000:]
            assert time.monotonic() < deadline, "the driver did not reach its pause point"
        os.close(reader)
        # The stages are over; the application has not ended (its driver waits). Reports are
        # throttled (one per 0.5 s per kind): give the newest one time to arrive.
        end = time.monotonic() + 15
        while time.monotonic() < end and not stages_ended(reports(recorded)):
            time.sleep(0.1)
        so_far = reports(recorded)
        with open(fifo, "w") as release:
            release.write("go\n")
        out = worker.communicate(timeout=300)[0].decode(errors="replace")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, out[-4000:]

    percents = [v for kind, v in so_far if kind == "percent"]
    statuses = [v for kind, v in so_far if kind == "status"]
    # The longer stage (6 tasks of 0.5 s on 2 cores) moved through intermediate values...
    assert any(0 < p < 100 for p in percents), so_far
    # ...and its end was reported while the application still ran: not 0% until done.
    assert percents[-1] == 100, so_far
    assert statuses[-1].endswith(ENDED), statuses
    final = reports(recorded)
    assert final[-1] == ("finished", True)
    assert [v for kind, v in final if kind == "percent"][-1] == 100
