from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

import pytest

from luigi_ufo.errors import ServiceError
from luigi_ufo.services.luigid import luigid_argv, task_list_url
from luigi_ufo.services.postgres import find_bindir, order_bindirs, privilege_drop_argv
from luigi_ufo.services.spark_standalone import alive_workers, daemon_env, master_argv, worker_argv
from luigi_ufo.testing.spark import docker_image

HOME = Path("/opt/pyspark")


def test_master_argv() -> None:
    assert master_argv(HOME, host="127.0.0.1", port=7077, webui_port=8080) == [
        "/opt/pyspark/bin/spark-class",
        "org.apache.spark.deploy.master.Master",
        "--host",
        "127.0.0.1",
        "--port",
        "7077",
        "--webui-port",
        "8080",
    ]


def test_worker_argv_points_at_the_master_with_small_resources() -> None:
    argv = worker_argv(
        HOME,
        master_url="spark://127.0.0.1:7077",
        host="127.0.0.1",
        port=7078,
        webui_port=8081,
        work_dir=Path("/tmp/w"),
    )
    assert argv == [
        "/opt/pyspark/bin/spark-class",
        "org.apache.spark.deploy.worker.Worker",
        "--host",
        "127.0.0.1",
        "--port",
        "7078",
        "--webui-port",
        "8081",
        "--cores",
        "2",
        "--memory",
        "2g",
        "--work-dir",
        "/tmp/w",
        "spark://127.0.0.1:7077",
    ]


def test_daemon_env_makes_executors_run_this_interpreter() -> None:
    env = daemon_env(HOME, Path("/tmp/b"), {"PATH": "/bin", "PYSPARK_PYTHON": "python2"})
    assert env["PYSPARK_PYTHON"] == sys.executable
    assert env["SPARK_HOME"] == "/opt/pyspark"
    assert env["PATH"] == "/bin"
    assert env["SPARK_LOG_DIR"] == "/tmp/b/logs"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"workers": []}, 0),
        ({}, 0),
        ({"workers": [{"state": "ALIVE"}, {"state": "DEAD"}, {"state": "ALIVE"}]}, 2),
        ({"workers": [{"state": "DECOMMISSIONED"}]}, 0),
    ],
)
def test_alive_workers_counts_only_alive(document: dict[str, object], expected: int) -> None:
    assert alive_workers(document) == expected


def test_luigid_argv_runs_in_the_foreground() -> None:
    argv = luigid_argv(
        python="/venv/bin/python",
        host="127.0.0.1",
        port=8082,
        logdir=Path("/tmp/l/logs"),
        state_path=Path("/tmp/l/state.pickle"),
    )
    assert argv[:3] == ["/venv/bin/python", "-c", "import luigi.cmdline; luigi.cmdline.luigid()"]
    assert argv[3:] == [
        "--address",
        "127.0.0.1",
        "--port",
        "8082",
        "--logdir",
        "/tmp/l/logs",
        "--state-path",
        "/tmp/l/state.pickle",
    ]
    assert "--background" not in argv


@pytest.mark.parametrize(("status", "data"), [(None, {}), ("DONE", {"status": "DONE"})])
def test_task_list_url(status: str | None, data: dict[str, str]) -> None:
    url = task_list_url("http://127.0.0.1:8082/", status)
    parsed = urllib.parse.urlsplit(url)
    assert url.startswith("http://127.0.0.1:8082/api/task_list?")
    assert json.loads(urllib.parse.parse_qs(parsed.query)["data"][0]) == data


def test_order_bindirs_puts_the_newest_major_first() -> None:
    paths = [
        Path(p)
        for p in (
            "/usr/lib/postgresql/9.6/bin",
            "/usr/lib/postgresql/16/bin",
            "/usr/lib/postgresql/15/bin",
            "/usr/pgsql-17/bin",
        )
    ]
    assert [p.as_posix() for p in order_bindirs(paths)] == [
        "/usr/pgsql-17/bin",
        "/usr/lib/postgresql/16/bin",
        "/usr/lib/postgresql/15/bin",
        "/usr/lib/postgresql/9.6/bin",
    ]


@pytest.mark.parametrize(
    ("euid", "setpriv", "runuser", "expected"),
    [
        (1000, "/usr/bin/setpriv", None, []),
        (
            0,
            "/usr/bin/setpriv",
            "/usr/sbin/runuser",
            ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"],
        ),
        (0, None, "/usr/sbin/runuser", ["/usr/sbin/runuser", "-u", "postgres", "--"]),
    ],
)
def test_privilege_drop_only_as_root(
    euid: int, setpriv: str | None, runuser: str | None, expected: list[str]
) -> None:
    assert privilege_drop_argv(euid, "postgres", setpriv=setpriv, runuser=runuser) == expected


def test_privilege_drop_as_root_without_tools_says_the_fix() -> None:
    with pytest.raises(ServiceError, match="install util-linux"):
        privilege_drop_argv(0, "postgres", setpriv=None, runuser=None)


def test_find_bindir_rejects_an_env_dir_without_binaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUIGI_UFO_PG_BINDIR", str(tmp_path))
    with pytest.raises(ServiceError, match="LUIGI_UFO_PG_BINDIR"):
        find_bindir()


@pytest.mark.parametrize(
    ("version", "image"),
    [
        ("4.3.0", "apache/spark:4.3.0"),
        ("3.5.3", "apache/spark:3.5.3"),
        ("4.0.0.dev1", "apache/spark:4.0.0"),
        ("4.1.0rc2", "apache/spark:4.1.0"),
    ],
)
def test_docker_image_matches_the_client_version(version: str, image: str) -> None:
    assert docker_image(version) == image
