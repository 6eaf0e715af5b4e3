"""Credential route choice, and the private properties file: content, mode, merge, removal."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luigi_ufo.errors import ConfigError
from luigi_ufo.spark.submit.properties import (
    default_properties_path,
    escape,
    merged_properties,
    private_properties_file,
    properties_text,
)
from luigi_ufo.spark.submit.spec import SubmitSpec, build_argv, credential_route

SECRET = {"spark.hadoop.fs.s3a.secret.key": "s3cr3t/+=", "spark.hadoop.fs.s3a.access.key": "AK"}


def spec(**kwargs: object) -> SubmitSpec:
    values: dict[str, object] = {"app": "/s/job.py", "spark_submit": "/nowhere/bin/spark-submit"}
    values.update(kwargs)
    return SubmitSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("master", "uses_s3", "route"),
    [
        ("local[*]", True, "env"),
        ("local", True, "env"),
        ("local[2]", False, "none"),
        ("spark://m:7077", True, "properties"),
        ("yarn", True, "properties"),
        ("k8s://https://k:6443", True, "properties"),
        ("local-cluster[2,1,1024]", True, "properties"),
        ("yarn", False, "none"),
    ],
)
def test_credential_route(master: str, uses_s3: bool, route: str) -> None:
    assert credential_route(master, uses_s3=uses_s3) == route


def test_properties_text_escapes_what_java_would_misread() -> None:
    entries = {"spark.b": " lead\\back\nline", "spark.a": "k=v:#!x"}
    assert properties_text(entries) == (
        "spark.a=k\\=v\\:\\#\\!x\n" + "spark.b=\\ lead\\\\back\\nline\n"
    )


@given(st.text())
def test_escaped_text_is_one_line_without_bare_separators(text: str) -> None:
    escaped = escape(text)
    assert "\n" not in escaped
    assert "\r" not in escaped
    # Every '=', ':', space or '\' left in the output is escaped (preceded by an odd run of '\').
    i = 0
    while i < len(escaped):
        if escaped[i] == "\\":
            assert i + 1 < len(escaped)
            i += 2
            continue
        assert escaped[i] not in "=: \t\f"
        i += 1


def test_build_argv_refuses_private_conf() -> None:
    with pytest.raises(ConfigError, match="run it with SparkSubmitRunner"):
        build_argv(spec(private_conf=SECRET))


def test_private_conf_is_hidden_from_repr() -> None:
    shown = repr(spec(private_conf=SECRET, env={"AWS_SECRET_ACCESS_KEY": "x1"}, secrets=("x1",)))
    assert "s3cr3t" not in shown
    assert "x1" not in shown


def test_file_is_private_while_used_and_gone_after() -> None:
    with private_properties_file(spec(private_conf=SECRET), {}) as used:
        assert used.private_conf == {}
        assert used.properties_file is not None
        path = Path(used.properties_file)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == (
            "\nspark.hadoop.fs.s3a.access.key=AK\nspark.hadoop.fs.s3a.secret.key=s3cr3t/+\\=\n"
        )
        assert build_argv(used)[-3:-1] == ["--properties-file", str(path)]
    assert not path.exists()


def test_file_is_removed_when_the_run_fails() -> None:
    seen: list[Path] = []

    def failing_run() -> None:
        with private_properties_file(spec(private_conf=SECRET), {}) as used:
            assert used.properties_file is not None
            seen.append(Path(used.properties_file))
            raise RuntimeError("spark-submit failed")

    with pytest.raises(RuntimeError):
        failing_run()
    [path] = seen
    assert not path.exists()


def test_no_private_conf_writes_nothing() -> None:
    plain = spec(properties_file="/secure/spark.conf")
    with private_properties_file(plain, {}) as used:
        assert used is plain


def test_user_properties_file_comes_first_so_private_entries_win(tmp_path: Path) -> None:
    user = tmp_path / "user.properties"
    user.write_text("spark.eventLog.enabled true\nspark.hadoop.fs.s3a.secret.key=old \\")
    data = merged_properties(spec(properties_file=str(user), private_conf=SECRET), {})
    assert data.decode().splitlines() == [
        "spark.eventLog.enabled true",
        "spark.hadoop.fs.s3a.secret.key=old \\",
        "",  # ends the open continuation above
        "spark.hadoop.fs.s3a.access.key=AK",
        "spark.hadoop.fs.s3a.secret.key=s3cr3t/+\\=",
    ]


def test_spark_defaults_are_kept_when_no_properties_file_is_set(tmp_path: Path) -> None:
    (tmp_path / "spark-defaults.conf").write_text("spark.master yarn\n")
    data = merged_properties(spec(private_conf=SECRET), {"SPARK_CONF_DIR": str(tmp_path)})
    assert data.decode().startswith("spark.master yarn\n\nspark.hadoop.fs.s3a.access.key=AK\n")


def test_unreadable_properties_file_is_explained(tmp_path: Path) -> None:
    missing = tmp_path / "nope.properties"
    with pytest.raises(ConfigError, match=r"nope.properties' cannot be read .*fix the path"):
        merged_properties(spec(properties_file=str(missing), private_conf=SECRET), {})


@pytest.mark.parametrize(
    ("env", "spark_submit", "expected"),
    [
        ({"SPARK_CONF_DIR": "/etc/spark", "SPARK_HOME": "/opt/s"}, "x", "/etc/spark"),
        ({"SPARK_HOME": "/opt/s"}, "/usr/bin/spark-submit", "/opt/s/conf"),
        ({}, "/opt/spark/bin/spark-submit", "/opt/spark/conf"),
    ],
)
def test_default_properties_path(env: dict[str, str], spark_submit: str, expected: str) -> None:
    path = default_properties_path(env, spark_submit)
    assert path == Path(expected) / "spark-defaults.conf"


def test_default_properties_path_finds_spark_submit_on_path(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin" / "spark-submit"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    path = default_properties_path({"PATH": str(tmp_path / "bin")}, "spark-submit")
    assert path == tmp_path / "conf" / "spark-defaults.conf"
