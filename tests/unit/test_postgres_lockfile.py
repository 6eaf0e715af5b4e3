"""A data directory's postmaster.pid is trusted only while its pid is the process that wrote it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg2.extensions
import pytest

from luigi_ufo.services.postgres import find_postmaster
from luigi_ufo.services.process import ProcessRef
from luigi_ufo.services.shared_postgres import SharedServer, url_for


@pytest.mark.parametrize(
    "content",
    [
        None,  # no lock file
        "",
        "not-a-pid\n",
        f"{os.getpid()}\n/elsewhere\n1700000000\n5432\n/tmp\n127.0.0.1\n  1 2\nready   \n",
    ],
)
def test_a_lock_file_without_a_live_postgres_of_the_dir_is_stale(
    tmp_path: Path, content: str | None
) -> None:
    if content is not None:
        (tmp_path / "postmaster.pid").write_text(content, encoding="utf-8")
    assert find_postmaster(tmp_path) is None


def lock_file(pid: int, started: float) -> str:
    return f"{pid}\n/data\n{int(started)}\n5433\n/tmp\n\n  1 2\nready   \n"


def test_a_lock_file_names_its_postmaster_by_pid_and_start_time(tmp_path: Path) -> None:
    me = ProcessRef.current()  # a live process standing in for the postmaster
    (tmp_path / "postmaster.pid").write_text(lock_file(me.pid, me.started), encoding="utf-8")
    found = find_postmaster(tmp_path)
    assert found is not None
    assert (found.pid, found.port, found.status) == (me.pid, 5433, "ready")


def test_a_pid_that_no_longer_exists_is_no_postmaster(tmp_path: Path) -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    started = time.time()  # about when it started
    os.waitpid(pid, 0)
    (tmp_path / "postmaster.pid").write_text(lock_file(pid, started), encoding="utf-8")
    assert find_postmaster(tmp_path) is None


def test_a_never_started_shared_server_reports_nothing(tmp_path: Path) -> None:
    server = SharedServer(tmp_path / "pg")
    assert server.status() is None
    assert server.url() is None
    assert server.stop() == "not running"
    assert not (tmp_path / "pg").exists()


def test_the_url_names_the_private_socket_and_the_client_role_without_a_password() -> None:
    url = url_for(Path("/var/lib/luigi-ufo/postgres/socket"), 5433)
    assert url == (
        "postgresql://luigi_ufo@/luigi_ufo?host=/var/lib/luigi-ufo/postgres/socket&port=5433"
    )
    # A path with a space stays one URI (percent-encoded), as psycopg2 reads it.
    spaced = url_for(Path("/Users/me/Application Support/luigi-ufo/postgres/socket"), 5432)
    assert psycopg2.extensions.parse_dsn(spaced)["host"] == (
        "/Users/me/Application Support/luigi-ufo/postgres/socket"
    )
