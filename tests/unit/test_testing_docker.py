"""The pure parts of the Docker backends: image settings, the Spark image check and script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from luigi_ufo.errors import ServiceError
from luigi_ufo.testing._docker import image_for
from luigi_ufo.testing.backend import IMAGE_ENV_VARS
from luigi_ufo.testing.spark import docker_script, hidden_environments, image_mismatch


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


def test_an_interpreter_in_the_shared_temp_dir_has_its_environment_hidden(tmp_path: Path) -> None:
    # A clone in the temp dir, its venv there too: the container must not see the host's venv.
    shared, elsewhere = tmp_path / "tmp", tmp_path / "home"
    base = shared / "luigi-ufo-spark-docker-x"
    venv_python = shared / "clone" / ".ci" / "venv" / "bin" / "python"
    pythons = [str(venv_python), str(elsewhere / ".venv" / "bin" / "python")]
    assert hidden_environments(pythons, shared, base) == [shared / "clone" / ".ci" / "venv"]
    assert hidden_environments([str(elsewhere / "bin" / "python3")], shared, base) == []
    with pytest.raises(ServiceError, match="lies directly in the temp dir"):
        hidden_environments([str(shared / "bin" / "python")], shared, base)


def test_spark_script_says_when_it_cannot_put_python3_in_place(tmp_path: Path) -> None:
    # Under set -e a failed link used to end the container silently (then blamed on the image).
    target = tmp_path / "bin" / "python"
    target.parent.mkdir()
    target.symlink_to(tmp_path / "gone")  # dangling: [ -e ] is false and ln -s fails
    script = docker_script(ports=(1, 2, 3, 4), base=tmp_path, pythons=[str(target)], uid=0, gid=0)
    first = script.splitlines()[:2]
    ran = subprocess.run(["bash", "-c", "\n".join(first)], capture_output=True, text=True)
    assert ran.returncode == 97
    assert f"cannot put python3 at {target} in the container" in ran.stderr
