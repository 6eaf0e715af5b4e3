"""The pure parts of the Docker backends: image settings, the Spark image check and script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from luigi_ufo.testing._docker import image_for
from luigi_ufo.testing.backend import IMAGE_ENV_VARS
from luigi_ufo.testing.spark import docker_script, image_mismatch


@pytest.mark.parametrize("service", sorted(IMAGE_ENV_VARS))
def test_image_setting_wins_over_the_public_default(service: str) -> None:
    var = IMAGE_ENV_VARS[service]
    assert var == f"LUIGI_UFO_TEST_{service.upper()}_IMAGE"
    assert image_for(service, "public:1", {var: " mirror.example/x:2 "}) == "mirror.example/x:2"
    assert image_for(service, "public:1", {var: ""}) == "public:1"
    assert image_for(service, "public:1", {}) == "public:1"


def test_spark_image_must_match_python_minor_and_spark_release() -> None:
    same = {"client_python": "3.11", "client_spark": "4.3.0", "image_python": "3.11"}
    assert image_mismatch("img", **same, image_spark="4.3.0") is None
    assert image_mismatch("img", **same, image_spark="4.3.0.dev1") is None
    problem = image_mismatch(
        "apache/spark:4.3.0", client_python="3.11", client_spark="4.3.0",
        image_python="3.10", image_spark="4.3.0",
    )  # fmt: skip
    assert problem is not None
    assert "Python 3.10" in problem
    assert "LUIGI_UFO_TEST_SPARK_IMAGE" in problem
    assert image_mismatch("img", **same, image_spark="3.5.3") is not None


def test_spark_script_links_the_client_python_and_drops_to_the_host_user(tmp_path: Path) -> None:
    script = docker_script(
        ports=(7077, 8080, 7078, 8081),
        base=tmp_path,
        pythons=["/home/a b/.venv/bin/python"],
        uid=1000,
        gid=1000,
    )
    subprocess.run(["bash", "-n", "-c", script], check=True)  # valid shell
    assert "'/home/a b/.venv/bin/python'" in script
    assert "setpriv --reuid=1000 --regid=1000 --clear-groups" in script
    assert "--port 7077 --webui-port 8080 &" in script
    assert script.splitlines()[-1].startswith("exec setpriv")
    assert "spark://127.0.0.1:7077" in script.splitlines()[-1]


def test_spark_script_as_root_needs_no_user_switch(tmp_path: Path) -> None:
    script = docker_script(ports=(1, 2, 3, 4), base=tmp_path, pythons=[], uid=0, gid=0)
    assert "setpriv" not in script
    assert "passwd" not in script
