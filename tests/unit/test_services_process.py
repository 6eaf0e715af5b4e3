"""One process reference (pid + start time) and one stop-the-tree, on real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from luigi_ufo.services.process import ProcessRef, stop_tree, sweep
from luigi_ufo.services.service_process import ServiceProcess


def group(pgid: int) -> list[int]:
    """The live members of process group ``pgid``, read from /proc (not from the code tested)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        time.sleep(0.05)
    return predicate()


def test_stop_kills_the_whole_group_including_grandchildren(tmp_path: Path) -> None:
    # The shell ignores SIGTERM, so the SIGKILL fallback is exercised as well.
    script = "trap '' TERM; sleep 60 & sleep 60 & echo started; wait"
    process = ServiceProcess(["sh", "-c", script], log=tmp_path / "svc.log")
    assert wait_for(lambda: len(group(process.pid)) == 3)
    assert os.getpgid(process.pid) == process.pid  # its own group, not the test's

    process.stop(timeout=0.5)

    assert group(process.pid) == []
    assert not process.running()
    assert process.log_tail() == "started"


def test_log_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    process = ServiceProcess(["sh", "-c", "seq 1 100"], log=tmp_path / "seq.log")
    process.popen.wait(10)
    assert process.log_tail(3) == "98\n99\n100"
    process.stop()


def test_a_tree_this_process_holds_no_handle_of_is_stopped_by_its_reference(
    tmp_path: Path,
) -> None:
    script = "trap '' TERM; sleep 60 & echo started; wait"
    process = ServiceProcess(["sh", "-c", script], log=tmp_path / "svc.log")
    assert wait_for(lambda: len(group(process.pid)) == 2)

    stopped = stop_tree(process.ref, 0.5)  # SIGTERM ignored by the shell: SIGKILL after 0.5 s

    assert stopped.killed
    assert stopped.found == 2
    assert group(process.pid) == []
    process.popen.wait(5)


def test_a_child_keeps_its_exit_status_for_its_owner() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stopped = stop_tree(child, 5.0)
    assert stopped.signal == "SIGTERM"
    assert not stopped.killed
    assert child.wait(5) == -signal.SIGTERM  # reaped by its own Popen, status intact


def test_a_child_that_dies_while_the_tree_is_looked_at_is_still_reaped() -> None:
    # The root exits between the owner's last poll() and the look at the tree (a zombie is no
    # member): stop_tree must still reap it, else its Popen never learns it ended.
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert wait_for(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE)

    class LatePoll:
        pid = proc.pid
        polls = 0

        def poll(self) -> int | None:
            self.polls += 1
            return None if self.polls == 1 else proc.poll()

    stop_tree(LatePoll(), 5.0)
    assert proc.returncode == 3


def test_members_left_by_a_root_that_exited_are_found_in_its_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    # The leader starts a grandchild in its group and exits: the grandchild is reparented.
    script = f"sleep 60 & echo $! > {pidfile}; exit 0"
    leader = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    leader.wait(10)
    assert wait_for(pidfile.exists)
    orphan = int(pidfile.read_text())
    assert wait_for(lambda: group(leader.pid) == [orphan])

    stop_tree(leader, 5.0)

    assert group(leader.pid) == []


def test_a_server_asked_its_own_way_stops_on_the_signal_it_heeds() -> None:
    # Like a postmaster: SIGINT is ignored here, SIGQUIT ends it; only the root is asked.
    code = (
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        # SIGQUIT's default, whatever this test inherited (a shell's `&` starts jobs ignoring it).
        "signal.signal(signal.SIGQUIT, signal.SIG_DFL); "
        "print('ready', flush=True); time.sleep(60)"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    assert server.stdout is not None
    assert server.stdout.readline() == b"ready\n"
    stopped = stop_tree(server, ask=((signal.SIGINT, 0.5), (signal.SIGQUIT, 5.0)), root_only=True)
    assert stopped.signal == "SIGQUIT"
    assert server.wait(5) == -signal.SIGQUIT
    server.stdout.close()


def test_a_process_reference_tells_its_process_from_others() -> None:
    me = ProcessRef.current()
    assert me.pid == os.getpid()
    assert me.started == psutil.Process().create_time()
    assert me.alive()
    assert ProcessRef.of(os.getpid()) == me
    assert ProcessRef.from_tag(me.tag) is not None
    assert ProcessRef.from_tag(me.tag).alive()  # type: ignore[union-attr]
    assert not ProcessRef(me.pid, me.started - 60).alive()  # the pid, handed to a later process
    assert ProcessRef.from_tag("garbage") is None

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = ProcessRef.of(gone.pid)
    gone.wait()
    assert ref is not None
    assert not ref.alive()
    assert ProcessRef.of(gone.pid) is None

    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    assert wait_for(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE)
    assert ProcessRef.of(zombie.pid) is None  # exited, not yet reaped: not alive
    zombie.wait()


def test_sweep_removes_the_files_of_dead_owners_only(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = ProcessRef.of(gone.pid)
    gone.kill()
    gone.wait()
    assert dead is not None
    left = tmp_path / f"x-{dead.tag}-abc"
    mine = tmp_path / f"x-{ProcessRef.current().tag}-def"
    broken = tmp_path / "x-not-a-tag"
    other = tmp_path / f"y-{dead.tag}-abc"
    for path in (left, mine, broken, other):
        path.write_text("")
    assert sorted(sweep(tmp_path, "x-")) == sorted([left, broken])
    assert mine.exists()
    assert other.exists()
