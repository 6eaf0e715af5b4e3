from __future__ import annotations

import os
import time
from pathlib import Path

from luigi_ufo._pgroup import group_members
from luigi_ufo.testing._process import ServiceProcess, group_alive, stop_group


def test_stop_kills_the_whole_group_including_grandchildren(tmp_path: Path) -> None:
    # The shell ignores SIGTERM, so the SIGKILL fallback is exercised as well.
    script = "trap '' TERM; sleep 60 & sleep 60 & echo started; wait"
    process = ServiceProcess(["sh", "-c", script], log=tmp_path / "svc.log")
    deadline = time.monotonic() + 10
    while len(group_members(process.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(group_members(process.pid)) == 3
    assert group_alive(process.pid)
    assert os.getpgid(process.pid) == process.pid  # its own group, not the test's

    process.stop(timeout=0.5)

    assert group_members(process.pid) == []
    assert not group_alive(process.pid)
    assert not process.running()
    assert process.log_tail() == "started"


def test_log_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    process = ServiceProcess(["sh", "-c", "seq 1 100"], log=tmp_path / "seq.log")
    process.popen.wait(10)
    assert process.log_tail(3) == "98\n99\n100"
    process.stop()


def test_stop_group_stops_a_group_this_process_holds_no_handle_of(tmp_path: Path) -> None:
    script = "trap '' TERM; sleep 60 & echo started; wait"
    process = ServiceProcess(["sh", "-c", script], log=tmp_path / "svc.log")
    deadline = time.monotonic() + 10
    while len(group_members(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group_alive(process.pid)

    stop_group(process.pid, timeout=0.5)  # SIGTERM ignored by the shell: SIGKILL after 0.5 s

    assert not group_alive(process.pid)
    process.popen.wait(5)
