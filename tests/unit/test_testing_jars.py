from __future__ import annotations

from pathlib import Path

from luigi_ufo.testing import find_s3a_jars


def _touch(directory: Path, *names: str) -> list[Path]:
    paths = [directory / name for name in names]
    for path in paths:
        path.write_bytes(b"PK")
    return paths


def test_env_list_of_existing_jars_is_returned_in_order(tmp_path: Path) -> None:
    jars = _touch(tmp_path, "hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar")
    env = {"LUIGI_UFO_SPARK_JARS": f" {jars[0]} ,{jars[1]},"}
    assert find_s3a_jars(env) == jars


def test_env_list_with_a_missing_jar_is_none(tmp_path: Path) -> None:
    (aws,) = _touch(tmp_path, "hadoop-aws-3.3.1.jar")
    env = {"LUIGI_UFO_SPARK_JARS": f"{aws},{tmp_path}/aws-java-sdk-bundle-1.11.901.jar"}
    assert find_s3a_jars(env) is None


def test_env_list_without_the_sdk_bundle_is_none(tmp_path: Path) -> None:
    (aws,) = _touch(tmp_path, "hadoop-aws-3.3.1.jar")
    assert find_s3a_jars({"LUIGI_UFO_SPARK_JARS": str(aws)}) is None


def test_jars_dir_yields_newest_of_each(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "hadoop-aws-3.3.1.jar",
        "hadoop-aws-3.3.4.jar",
        "aws-java-sdk-bundle-1.11.901.jar",
        "unrelated.jar",
    )
    env = {"LUIGI_UFO_SPARK_JARS_DIR": str(tmp_path)}
    assert find_s3a_jars(env) == [
        tmp_path / "hadoop-aws-3.3.4.jar",
        tmp_path / "aws-java-sdk-bundle-1.11.901.jar",
    ]


def test_nothing_configured_is_none(tmp_path: Path) -> None:
    assert find_s3a_jars({}) is None
    assert find_s3a_jars({"LUIGI_UFO_SPARK_JARS_DIR": str(tmp_path)}) is None
