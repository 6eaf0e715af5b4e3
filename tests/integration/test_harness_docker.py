"""The Docker backend for real: each fixture's service runs in a container of the configured image.

Run with ``LUIGI_UFO_TEST_BACKEND=docker`` and a Docker engine (``.ci/docker-leg`` does, on images
it builds locally); elsewhere they are deselected (the ``docker`` marker, tests/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from luigi_ufo.services.spark_home import spark_home
from luigi_ufo.testing import missing
from luigi_ufo.testing.backend import IMAGE_ENV_VARS, Backend, select_backend
from luigi_ufo.testing.postgres import DOCKER_IMAGE as POSTGRES_IMAGE
from luigi_ufo.testing.s3 import DOCKER_IMAGE as S3_IMAGE
from luigi_ufo.testing.spark import SparkCluster, docker_image

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    """Return a docker SDK client of the engine every service's container runs on.

    Selected only with ``LUIGI_UFO_TEST_BACKEND=docker`` (tests/conftest.py); an engine that does
    not answer then fails the tests (the SDK waits its own 60 s), never skips them.
    """
    chosen = {service: select_backend(service).value for service in IMAGE_ENV_VARS}
    if set(chosen.values()) != {"docker"}:
        missing(f"backends here are {chosen!r}: a LUIGI_UFO_TEST_*_DSN/ENDPOINT/MASTER var is set")
    import docker

    client = docker.from_env()
    assert client.ping(), f"no Docker engine answers at {os.environ.get('DOCKER_HOST')!r}"
    yield client
    client.close()


def running_container(client: Any, service: str, default: str) -> Any:
    image = os.environ.get(IMAGE_ENV_VARS[service]) or default
    found = [c for c in client.containers.list() if image in c.image.tags]
    assert len(found) == 1, (image, [c.image.tags for c in client.containers.list()])
    return found[0]


def published(container: Any, port: int) -> list[tuple[str, int]]:
    bindings = container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"]
    return [(b["HostIp"], int(b["HostPort"])) for b in bindings]


def test_postgres_is_the_configured_image_published_on_loopback_only(
    engine: Any, postgres_dsn: str
) -> None:
    container = running_container(engine, "postgres", POSTGRES_IMAGE)
    [(host, port)] = published(container, 5432)
    assert host == "127.0.0.1"
    assert f"host=127.0.0.1 port={port} " in postgres_dsn
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT inet_server_addr() IS NOT NULL, current_user")
        assert cur.fetchone() == (True, "postgres")  # over TCP, as the superuser
    conn.close()


def test_s3_is_the_configured_image_published_on_loopback_only(
    engine: Any, s3_endpoint: str
) -> None:
    container = running_container(engine, "s3", S3_IMAGE)
    [(host, port)] = published(container, 5000)
    assert (host, s3_endpoint) == ("127.0.0.1", f"http://127.0.0.1:{port}")


EXECUTOR_PROBE = """
import sys, os
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("docker-probe").getOrCreate()
def probe(_):
    # /opt/spark exists in the Spark image only: True proves the executor ran in the container.
    return (os.path.isdir("/opt/spark/jars"), "%d.%d" % sys.version_info[:2])
seen = set(spark.sparkContext.parallelize(range(4), 2).map(probe).collect())
open(sys.argv[1], "w").write(repr(sorted(seen)))
spark.stop()
"""


def test_python_executors_run_in_the_spark_container(
    engine: Any, spark_master: SparkCluster, tmp_path: Path
) -> None:
    assert not Path("/opt/spark/jars").is_dir(), "the host has /opt/spark: the probe cannot tell"
    container = running_container(engine, "spark", docker_image(_pyspark_version()))
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    assert spark_master.backend is Backend.DOCKER
    script = tmp_path / "probe.py"
    script.write_text(EXECUTOR_PROBE)
    out = tmp_path / "seen.txt"
    argv = [str(spark_home() / "bin" / "spark-submit"), "--master", spark_master.master_url]
    argv += ["--conf", "spark.ui.enabled=false", "--executor-memory", "512m", str(script), str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client_python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert out.read_text() == repr([(True, client_python)])
    assert "docker-probe" in [app["name"] for app in spark_master.status()["completedapps"]]


def _pyspark_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("pyspark")
