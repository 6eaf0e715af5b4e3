"""ExternalSparkScriptTask -> SubmitSpec mapping and settings resolution, without running Spark."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import luigi
import pytest

from luigi_ufo.errors import ConfigError, ScriptNotFoundError
from luigi_ufo.s3.s3a import SIMPLE_CREDENTIALS_PROVIDER
from luigi_ufo.spark import ExternalSparkScriptTask, SparkSettings
from luigi_ufo.spark.connect.runner import ConnectRunner
from luigi_ufo.spark.task import spark_uri

SetConfig = Callable[[str, str, str], None]


class FakeDated(luigi.Target):
    """Stands in for a DatedTarget: only the attributes the task reads."""

    def __init__(self, spark_uri: str) -> None:
        self.spark_uri = spark_uri

    def exists(self) -> bool:
        return False


class Upstream(luigi.ExternalTask):
    def output(self) -> Any:
        return [luigi.LocalTarget("/data/a"), FakeDated("/lake/raw/2026-11-24/")]


class Job(ExternalSparkScriptTask):
    script = "job.py"
    spark_overrides = {  # noqa: RUF012 - how users write overrides
        "conf": {"spark.sql.shuffle.partitions": "2"},
        "driver_memory": "1g",
    }

    def requires(self) -> Any:
        return Upstream()

    def output(self) -> Any:
        return luigi.LocalTarget("/data/out")


class S3Job(ExternalSparkScriptTask):
    script = "job.py"

    def output(self) -> Any:
        return FakeDated("s3://lake/out/2026-11-24/")


@pytest.fixture
def scripts(tmp_path: Path, luigi_config: SetConfig) -> Path:
    (tmp_path / "job.py").write_text("print('hi')\n")
    luigi_config("spark_script", "scripts_dir", str(tmp_path))
    return tmp_path


def test_spec_from_task(scripts: Path, luigi_config: SetConfig) -> None:
    luigi_config("spark_script", "master", "spark://m:7077")
    luigi_config("spark_script", "conf", '{"spark.eventLog.enabled": "false"}')
    luigi_config("spark_script", "jars", '["/j/a.jar", "/j/b.jar"]')
    spec = Job().submit_spec()
    assert spec.app == str(scripts.resolve() / "job.py")
    assert spec.app_args == (
        "--input",
        "/data/a",
        "/lake/raw/2026-11-24/",
        "--output",
        "/data/out",
    )
    assert spec.master == "spark://m:7077"
    assert spec.name == Job().task_id
    assert spec.driver_memory == "1g"
    assert spec.jars == ("/j/a.jar", "/j/b.jar")
    assert dict(spec.conf) == {
        "spark.ui.showConsoleProgress": "true",
        "spark.eventLog.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
    }
    assert spec.env["PYSPARK_PYTHON"] == sys.executable
    assert spec.spark_submit.endswith("spark-submit")


def test_s3_uses_s3a_conf_and_env_credentials(scripts: Path, luigi_config: SetConfig) -> None:
    luigi_config("s3_endpoint", "endpoint_url", "http://127.0.0.1:9")
    luigi_config("s3_endpoint", "path_style", "true")
    spec = S3Job().submit_spec()
    assert spec.app_args == ("--output", "s3a://lake/out/2026-11-24/")
    assert spec.conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9"
    assert spec.conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    # Credentials reach Spark by environment only, and their values are masked everywhere.
    assert spec.env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "testing" in spec.secrets
    assert not any("testing" in v for v in spec.conf.values())


def test_task_overrides_win_and_conf_merges() -> None:
    base = SparkSettings.of({"master": "yarn", "conf": {"spark.a": "1", "spark.b": "1"}})
    merged = base.override({"conf": {"spark.b": "2"}, "master": None, "queue": "etl"})
    assert merged.master == "yarn"
    assert merged.queue == "etl"
    assert dict(merged.conf) == {"spark.a": "1", "spark.b": "2"}


def test_comma_separated_lists_are_accepted() -> None:
    assert SparkSettings.of({"jars": "/a.jar, /b.jar"}).jars == ("/a.jar", "/b.jar")


def test_unknown_override_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"'mastr', which is not a setting; did you mean 'master'"
    ):
        SparkSettings().override({"mastr": "yarn"})


def test_supervise_false_from_config_adds_no_flag(scripts: Path, luigi_config: SetConfig) -> None:
    luigi_config("spark_script", "supervise", "false")
    assert Job().submit_spec().supervise is False


@pytest.mark.parametrize(
    ("target", "uri"),
    [
        (FakeDated("s3a://b/p/"), "s3a://b/p/"),
        (luigi.LocalTarget("/x/y"), "/x/y"),
        (FakeDated("s3://b/p/"), "s3a://b/p/"),
    ],
)
def test_spark_uri(target: Any, uri: str) -> None:
    assert spark_uri(target) == uri


def test_spark_uri_of_unknown_target() -> None:
    with pytest.raises(ConfigError, match="override app_options"):
        spark_uri(object())


def test_private_properties_file_is_passed(
    scripts: Path, tmp_path: Path, luigi_config: SetConfig
) -> None:
    props = tmp_path / "spark.properties"
    props.write_text("spark.authenticate.secret=hush\n")
    props.chmod(0o600)
    luigi_config("spark_script", "properties_file", str(props))
    spec = Job().submit_spec()
    assert spec.properties_file == str(props)


def test_readable_properties_file_is_refused(
    scripts: Path, tmp_path: Path, luigi_config: SetConfig
) -> None:
    props = tmp_path / "spark.properties"
    props.write_text("spark.authenticate.secret=hush\n")
    props.chmod(0o644)
    luigi_config("spark_script", "properties_file", str(props))
    with pytest.raises(ConfigError, match=r"is readable by others \(mode 644\); run `chmod 600"):
        Job().submit_spec()


def test_s3_on_a_cluster_puts_credentials_in_private_conf(
    scripts: Path, luigi_config: SetConfig, aws_credentials: dict[str, str]
) -> None:
    luigi_config("s3_endpoint", "endpoint_url", "http://127.0.0.1:9")
    luigi_config("spark_script", "master", "spark://m:7077")
    spec = S3Job().submit_spec()
    key = aws_credentials["AWS_ACCESS_KEY_ID"]
    secret = aws_credentials["AWS_SECRET_ACCESS_KEY"]
    assert dict(spec.private_conf) == {
        "spark.hadoop.fs.s3a.access.key": key,
        "spark.hadoop.fs.s3a.secret.key": secret,
        "spark.hadoop.fs.s3a.aws.credentials.provider": SIMPLE_CREDENTIALS_PROVIDER,
    }
    # Not in the environment, not in argv's conf (whose provider would beat the file's).
    assert "AWS_SECRET_ACCESS_KEY" not in spec.env
    assert spec.env["AWS_REGION"] == "us-east-1"
    assert not any(k.endswith(("access.key", "secret.key", "provider")) for k in spec.conf)
    assert spec.conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9"
    assert secret in spec.secrets


def test_every_setting_reaches_the_spec_or_the_runner() -> None:
    from luigi_ufo.spark.submit.build import PASSED_THROUGH

    assert PASSED_THROUGH == (
        "master",
        "deploy_mode",
        "packages",
        "jars",
        "py_files",
        "files",
        "driver_memory",
        "executor_memory",
        "driver_cores",
        "executor_cores",
        "total_executor_cores",
        "num_executors",
        "queue",
        "supervise",
        "extra_args",
    )


class JobWithModules(Job):
    script_files = ("rules.py", "io_helpers.py")


@pytest.fixture
def with_modules(
    scripts: Path, luigi_config: SetConfig, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Any]:
    """Give the task's two modules, a py_files entry and the user's own PYTHONPATH; return the
    submit spec of JobWithModules on a given master."""
    (scripts / "rules.py").write_text("R = 1\n")
    (scripts / "io_helpers.py").write_text("H = 1\n")
    luigi_config("spark_script", "py_files", "/shared/dep.zip")
    monkeypatch.setenv("PYTHONPATH", "/users/own")

    def spec_on(master: str) -> Any:
        luigi_config("spark_script", "master", master)
        return JobWithModules().submit_spec()

    return spec_on


def test_script_files_are_resolved_like_the_script_and_passed_as_py_files_to_a_cluster(
    scripts: Path, luigi_config: SetConfig, with_modules: Callable[[str], Any]
) -> None:
    spec = with_modules("spark://spark-master:7077")
    root = scripts.resolve()
    assert spec.py_files == ("/shared/dep.zip", str(root / "rules.py"), str(root / "io_helpers.py"))
    assert "PYTHONPATH" not in spec.env
    assert Job().submit_spec().py_files == ("/shared/dep.zip",)
    luigi_config("spark_script", "mode", "connect")
    task = JobWithModules()
    connect = task.spark_runner(task.spark_settings())
    assert isinstance(connect, ConnectRunner)
    assert [f.path for f in connect.spec.script_files] == [
        root / "rules.py",
        root / "io_helpers.py",
    ]


def test_script_files_reach_a_local_master_through_pythonpath_not_py_files(
    scripts: Path, luigi_config: SetConfig, with_modules: Callable[[str], Any]
) -> None:
    spec = with_modules("local[2]")
    assert spec.py_files == ("/shared/dep.zip",)
    assert spec.env["PYTHONPATH"] == f"{scripts.resolve()}{os.pathsep}/users/own"
    assert "PYTHONPATH" not in Job().submit_spec().env  # no script_files: the environment's
    luigi_config("spark_script", "env", '{"PYTHONPATH": "/from/settings"}')
    assert JobWithModules().submit_spec().env["PYTHONPATH"].endswith(f"{os.pathsep}/from/settings")


def test_a_missing_script_file_names_the_attribute(scripts: Path) -> None:
    (scripts / "rules.py").write_text("R = 1\n")
    with pytest.raises(ScriptNotFoundError, match=r"'io_helpers\.py' not found") as info:
        JobWithModules().submit_spec()
    assert "Fix the task's `script_files`" in str(info.value)

    class NotAModule(Job):
        script_files = ("data.json",)

    (scripts / "data.json").write_text("{}")
    with pytest.raises(ScriptNotFoundError, match=r"'data\.json' is not a Python module"):
        NotAModule().submit_spec()


def test_the_lineage_code_covers_the_script_files(scripts: Path) -> None:
    (scripts / "rules.py").write_text("R = 1\n")
    (scripts / "io_helpers.py").write_text("H = 1\n")
    task = JobWithModules()
    before = task.lineage_code()
    assert before != Job().lineage_code()  # the script's own sha256, as without files
    (scripts / "rules.py").write_text("R = 2\n")
    assert task.lineage_code() != before
