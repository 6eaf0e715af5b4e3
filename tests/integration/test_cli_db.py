"""The CLI's embedded PostgreSQL on every exit path, shared between runs, and ``luigi-ufo db``.

Everything runs the installed ``luigi-ufo`` in a subprocess against the real embedded server.
A kill "during PostgreSQL start-up" is placed deterministically: the test-only pause point
``postgres-starting`` (the postmaster is spawned, not yet ready) blocks the CLI on a FIFO.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg2
import pytest

from luigi_ufo.pause_points import PAUSE_ENV
from tests.other_account import other_account

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LUIGI_UFO = Path(sys.executable).with_name("luigi-ufo")
ROWS = "500"
Left = Callable[[], list[psutil.Process]]  # the postgres_left fixture


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(LUIGI_UFO), *args], env=env, capture_output=True, text=True, timeout=600
    )
    if check:
        assert result.returncode == 0, result.stderr[-4000:]
    return result


def sigint_as_in_a_terminal() -> None:
    # Runs in the child before exec: a test run that is a background job of a script inherits
    # an ignored SIGINT, which luigi-ufo (like Python) then leaves ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def paused_cli(
    env: dict[str, str], fifo: Path, point: str, *args: str
) -> tuple[subprocess.Popen[str], int]:
    """Start the CLI and return once it blocks at ``point`` (and the FIFO end that holds it)."""
    os.mkfifo(fifo)
    # Opened before the CLI writes, non-blocking: the CLI's open for writing then succeeds.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    proc = subprocess.Popen(
        [str(LUIGI_UFO), *args],
        env={**env, PAUSE_ENV: f"{point}={fifo}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_in_a_terminal,
    )
    deadline = time.monotonic() + 300
    while True:
        ready, _, _ = select.select([reader], [], [], 0.5)
        if ready and os.read(reader, 100) == f"{point}\n".encode():
            return proc, reader
        assert proc.poll() is None, f"the CLI ended before {point}: {proc.communicate()[1]}"
        assert time.monotonic() < deadline, f"the CLI did not reach {point}"


def release(fifo: Path, reader: int) -> None:
    """Let a CLI paused at a point go on."""
    with open(fifo, "w", encoding="utf-8") as out:
        out.write("go\n")
    os.close(reader)


def on_a_terminal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe, as in `... --json | jq`)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(LUIGI_UFO), *args], env=env, stdout=subprocess.PIPE, stderr=slave, text=True
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    out, _ = proc.communicate(timeout=600)
    reader.join(timeout=60)
    os.close(master)
    err = b"".join(chunks).decode("utf-8", "replace")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def demo(env: dict[str, str], *extra: str) -> list[str]:
    return ["demo", "--rows", ROWS, "--date", "2024-01-15", *extra]


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
def test_a_signal_during_postgres_start_up_leaves_nothing_that_blocks_the_next_run(
    home: dict[str, str],
    postgres_left: Left,
    tmp_path: Path,
    sig: signal.Signals,
) -> None:
    proc, reader = paused_cli(home, tmp_path / "pause", "postgres-starting", *demo(home))
    # Spawned as root through setpriv, the child is named postgres only once setpriv has exec'd
    # it, which a loaded machine may not have done yet when the pause point is reached.
    deadline = time.monotonic() + 60
    while not postgres_left() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not postgres_left():
        proc.kill()
        proc.communicate()
        os.close(reader)
        pytest.fail("the postmaster should be spawned at this point")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    os.close(reader)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 128 + sig, err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1] == (
            f"luigi-ufo: interrupted by {sig.name}; nothing was left running"
        )
        assert postgres_left() == []
    # The next run on the same data directory works: a killed run's postmaster (still starting,
    # or ready by now) is taken over, and stopped at the end like one the run started itself.
    again = cli(home, *demo(home, "--json"))
    assert json.loads(again.stdout)["date"] == "2024-01-15"
    assert postgres_left() == []


def test_two_runs_at_once_share_one_server(
    home: dict[str, str], postgres_left: Left, tmp_path: Path
) -> None:
    first, reader = paused_cli(home, tmp_path / "pause", "postgres-starting", *demo(home))
    # The second run comes while the first one starts the server: it waits, then shares it.
    second = subprocess.Popen(
        [str(LUIGI_UFO), "demo", "--rows", ROWS, "--date", "2024-01-16", "--json"],
        env=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert second.stderr is not None
    waiting = ""
    deadline = time.monotonic() + 300
    while "waiting for another luigi-ufo" not in waiting:
        line = second.stderr.readline()
        assert line or second.poll() is None, f"second run ended: {waiting}"
        waiting += line
        assert time.monotonic() < deadline
    release(tmp_path / "pause", reader)
    out2, err2 = second.communicate(timeout=600)
    out1, err1 = first.communicate(timeout=600)
    assert second.returncode == 0, (waiting + err2)[-4000:]
    assert first.returncode == 0, err1[-4000:]
    assert json.loads(out2)["date"] == "2024-01-16"
    assert "Top 10 US states by NUFORC sightings, 2024-01-15" in out1
    assert "already running, shared" in err2
    assert "lock file" not in err1 + err2
    assert postgres_left() == []


def test_db_commands_and_a_kept_server_outlives_a_run(
    home: dict[str, str], postgres_left: Left
) -> None:
    assert cli(home, "db", "status", check=False).returncode == 3
    url = cli(home, "db", "start").stdout.strip()
    socket_dir = Path(home["LUIGI_UFO_DATA_DIR"]) / "postgres" / "socket"
    assert url == f"postgresql://luigi_ufo@/luigi_ufo?host={socket_dir}&port=5432"
    status = cli(home, "db", "status").stdout
    assert url in status
    assert "kept by `luigi-ufo db start`" in status
    pid = int(status.split(" pid ")[1].split()[0])
    assert psutil.Process(pid).name() == "postgres"

    # On a terminal the run draws live progress on stderr; stdout stays only the JSON.
    run = on_a_terminal(home, *demo(home, "--json"))
    assert run.returncode == 0, run.stderr[-4000:]
    assert "already running, shared" in run.stderr
    assert "TopStatesToDatabase(date=2024-01-15)" in run.stderr
    assert "\x1b[" in run.stderr  # drawn with escape codes, by rich
    assert "100%" in run.stderr
    # The run did not start the server, so it did not stop it.
    assert cli(home, "db", "status").stdout == status
    assert cli(home, "db", "url").stdout.strip() == url
    # Results can be queried with the URL ...
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT state, sightings FROM ufo_top_states WHERE date = '2024-01-15' ORDER BY rank"
        )
        top = cur.fetchall()
    conn.close()
    assert [{"state": s, "sightings": n} for s, n in top] == [
        {"state": r["state"], "sightings": r["sightings"]} for r in json.loads(run.stdout)["top"]
    ]
    # ... and with psql through the CLI.
    psql = cli(home, "db", "psql", "--", "-Atc", "SELECT count(*) FROM ufo_top_states")
    assert psql.stdout.strip() == str(len(top))

    assert "stopped" in cli(home, "db", "stop").stderr
    assert postgres_left() == []
    assert cli(home, "db", "status", check=False).returncode == 3
    # The URL stays the same for luigi.cfg: the next start reuses the port.
    assert cli(home, "db", "start").stdout.strip() == url
    cli(home, "db", "stop")
    assert postgres_left() == []


def test_a_stale_lock_file_naming_another_process_is_not_an_obstacle(
    home: dict[str, str],
    postgres_left: Left,
) -> None:
    cli(home, "db", "start")
    cli(home, "db", "stop")
    # As after a SIGKILL of the postmaster and a reboot: the pid is now someone else's.
    lock = Path(home["LUIGI_UFO_DATA_DIR"]) / "postgres" / "data" / "postmaster.pid"
    lock.write_text(f"{os.getpid()}\n{lock.parent}\n0\n5432\n\n\n\nready   \n", encoding="utf-8")
    assert cli(home, "db", "status", check=False).returncode == 3
    cli(home, "db", "start")
    assert psutil.Process(int(lock.read_text().split()[0])).name() == "postgres"
    cli(home, "db", "stop")
    assert postgres_left() == []


def test_a_failed_task_exits_1_with_its_error_and_stops_the_server(
    home: dict[str, str], postgres_left: Left, tmp_path: Path
) -> None:
    Path(home["LUIGI_CONFIG_PATH"]).write_text("[spark_script]\nspark_submit = /bin/false\n")
    result = cli(home, *demo(home), check=False)
    assert result.returncode == 1, result.stderr[-4000:]
    failed = r"^AggregateUFOsByState\(date=2024-01-15\) failed: .*spark-submit exited with code 1"
    assert re.search(failed, result.stderr, re.M)
    assert "Traceback" not in result.stderr
    assert postgres_left() == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_while_a_spark_task_runs_exits_with_its_code_and_leaves_nothing(
    home: dict[str, str], postgres_left: Left, sig: signal.Signals
) -> None:
    # Whether the signal lands before spark-submit starts or while the Spark runner has it (which
    # then kills the application and fails the task), the outcome is the same.
    proc = subprocess.Popen(
        [str(LUIGI_UFO), *demo(home)],
        env=home,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_in_a_terminal,
    )
    assert proc.stderr is not None
    seen = ""
    try:
        while "AggregateUFOsByState(date=2024-01-15) ..." not in seen:
            line = proc.stderr.readline()
            assert line, f"the run ended before its Spark task: {seen}"
            seen += line
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
    finally:  # a failure above leaves no running process and open pipe to a later test
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + sig, seen + err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"luigi-ufo: interrupted by {sig.name}; nothing was left running"
    )
    assert postgres_left() == []
    data = home["LUIGI_UFO_DATA_DIR"]
    left = []
    for other in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if any(data in arg for arg in other.cmdline()):
                left.append(other)
    assert left == []


def test_db_stop_spares_a_server_in_use_and_a_sigkilled_runs_server_is_taken_over(
    home: dict[str, str], postgres_left: Left, tmp_path: Path
) -> None:
    run, reader = paused_cli(home, tmp_path / "pause", "pipeline-starting", *demo(home))
    stop = cli(home, "db", "stop")
    assert "in use by a running luigi-ufo" in stop.stderr
    assert cli(home, "db", "status").returncode == 0
    # SIGKILL: no cleanup at all. The server stays up, marked as a run's, not kept.
    run.kill()
    run.communicate()
    os.close(reader)
    status = cli(home, "db", "status").stdout
    assert "started by a luigi-ufo run" in status
    again = cli(home, *demo(home, "--json"))
    assert "already running, shared" in again.stderr
    assert json.loads(again.stdout)["date"] == "2024-01-15"
    assert postgres_left() == []  # the run that took it over stopped it


def test_another_local_account_cannot_reach_the_embedded_postgres(
    home: dict[str, str], postgres_left: Left, postgres_dsn: str
) -> None:
    url = cli(home, "db", "start").stdout.strip()
    try:
        pid = int(cli(home, "db", "status").stdout.split(" pid ")[1].split()[0])
        with other_account() as other:
            # The control: the same account does reach a throwaway loopback test cluster.
            control = other.run(["psql", postgres_dsn, "-Atc", "SELECT 1"])
            assert control.stdout.strip() == "1", control.stderr
            # The server's own URL, and every TCP address it listens on, if any.
            listening = [
                c.laddr
                for c in psutil.Process(pid).net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN
            ]
            attempts = [url] + [
                f"postgresql://postgres@{a.ip}:{a.port}/postgres" for a in listening
            ]
            for target in attempts:
                tried = other.run(["psql", target, "-Atc", "SELECT usesuper FROM pg_user"])
                assert tried.returncode != 0, (target, tried.stdout)
                assert tried.stdout == ""
            assert listening == []
            socket_dir = Path(home["LUIGI_UFO_DATA_DIR"]) / "postgres" / "socket"
            assert socket_dir.stat().st_mode & 0o077 == 0
        # The owner connects, as a role that is not a superuser (no COPY ... TO PROGRAM).
        mine = cli(
            home,
            "db",
            "psql",
            "--",
            "-Atc",
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
        )
        assert mine.stdout.strip() == "f"
    finally:
        cli(home, "db", "stop")
    assert postgres_left() == []


DURABILITY = (
    "SELECT name || '=' || setting FROM pg_settings "
    "WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes') ORDER BY name"
)


def test_the_per_user_server_is_durable_and_a_throwaway_test_cluster_is_not(
    home: dict[str, str], postgres_left: Left, postgres_dsn: str
) -> None:
    cli(home, "db", "start")
    try:
        shown = cli(home, "db", "psql", "--", "-Atc", DURABILITY).stdout.split()
    finally:
        cli(home, "db", "stop")
    assert shown == ["fsync=on", "full_page_writes=on", "synchronous_commit=on"]
    assert postgres_left() == []
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute(DURABILITY)
        test_cluster = [row[0] for row in cur.fetchall()]
    conn.close()
    assert test_cluster == ["fsync=off", "full_page_writes=off", "synchronous_commit=off"]


def luigi_form(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The README's Luigi form of the last task (no [retcode] in luigi.cfg: Luigi's own 0s)."""
    task = ["TopStatesToDatabase", "--date", "2024-01-15", "--local-scheduler"]
    return subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_ufo.ufo", *task],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_stopped_database_is_exit_3_saying_db_start(
    home: dict[str, str], tmp_path: Path, postgres_left: Left
) -> None:
    # A newcomer's path: no [postgres_topn] and no PG* variables, so the pipeline's database is
    # the per-user server, which nothing has started.
    env = {k: v for k, v in home.items() if not k.startswith("PG")}
    stopped = luigi_form(env, tmp_path)
    assert stopped.returncode == 3, stopped.stderr[-3000:]
    assert "start it with `luigi-ufo db start`" in stopped.stderr
    assert "Traceback" not in stopped.stderr

    # The tutorial's luigi.cfg points [postgres_topn] at `luigi-ufo db url`; then it stops.
    cli(env, "db", "start")
    url = cli(env, "db", "url").stdout.strip()
    cli(env, "db", "stop")
    # Stopped, its URL is still printed (the next start's), with exit 3.
    again = cli(env, "db", "url", check=False)
    assert (again.returncode, again.stdout.strip()) == (3, url), again.stderr
    assert "PostgreSQL is not running" in again.stderr
    Path(env["LUIGI_CONFIG_PATH"]).write_text(f"[postgres_topn]\ndsn = {url}\n", encoding="utf-8")
    run = cli(env, "demo", "--rows", ROWS, "--date", "2024-01-15", check=False)
    assert run.returncode == 3, run.stderr[-3000:]
    assert "start it with `luigi-ufo db start`" in run.stderr
    assert "PostgreSQL start" not in run.stderr  # nothing was started, so nothing is "done"
    stopped = luigi_form(env, tmp_path)
    assert stopped.returncode == 3, stopped.stderr[-3000:]
    assert f"[postgres_topn] points at it ({url})" in stopped.stderr
    assert postgres_left() == []
