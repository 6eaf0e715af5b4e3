"""SubmitSpec -> argv by list equality, validation errors, masking and kill commands."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luigi_ufo.errors import ConfigError
from luigi_ufo.spark.submit.spec import (
    MASK,
    SubmitSpec,
    build_argv,
    cluster_manager,
    effective_conf,
    format_argv,
    kill_argv,
    mask,
    mask_argv,
)

SS = "/opt/spark/bin/spark-submit"
HEAD = [SS, "--master", "local[*]", "--deploy-mode", "client"]


def spec(**kwargs: object) -> SubmitSpec:
    values: dict[str, object] = {"app": "/s/job.py", "spark_submit": SS}
    values.update(kwargs)
    return SubmitSpec(**values)  # type: ignore[arg-type]


def test_minimal_argv() -> None:
    assert build_argv(spec()) == [*HEAD, "/s/job.py"]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("name", "daily clicks", ["--name", "daily clicks"]),
        ("packages", ("a:b:1", "c:d:2"), ["--packages", "a:b:1,c:d:2"]),
        ("jars", ("/j/a.jar", "/j/b.jar"), ["--jars", "/j/a.jar,/j/b.jar"]),
        ("py_files", ("/p/lib.zip",), ["--py-files", "/p/lib.zip"]),
        ("files", ("/f/x.csv", "/f/y.csv"), ["--files", "/f/x.csv,/f/y.csv"]),
        ("driver_memory", "2g", ["--driver-memory", "2g"]),
        ("executor_memory", "3g", ["--executor-memory", "3g"]),
        ("driver_cores", 2, ["--driver-cores", "2"]),
        ("executor_cores", 4, ["--executor-cores", "4"]),
        ("total_executor_cores", 8, ["--total-executor-cores", "8"]),
        ("num_executors", 3, ["--num-executors", "3"]),
        ("queue", "etl", ["--queue", "etl"]),
        ("properties_file", "/secure/spark.conf", ["--properties-file", "/secure/spark.conf"]),
        ("supervise", True, ["--supervise"]),
        ("conf", {"spark.a": "1"}, ["--conf", "spark.a=1"]),
    ],
)
def test_each_option(option: str, value: object, expected: list[str]) -> None:
    assert build_argv(spec(**{option: value})) == [*HEAD, *expected, "/s/job.py"]


@pytest.mark.parametrize(
    "option", ["name", "packages", "jars", "py_files", "files", "driver_memory", "queue"]
)
def test_unset_options_are_absent(option: str) -> None:
    empty = () if option in ("packages", "jars", "py_files", "files") else None
    assert build_argv(spec(**{option: empty})) == [*HEAD, "/s/job.py"]


def test_supervise_false_adds_nothing() -> None:
    assert "--supervise" not in build_argv(spec(supervise=False))


def test_full_argv_order() -> None:
    argv = build_argv(
        spec(
            master="yarn",
            deploy_mode="cluster",
            name="n",
            py_files=("/p/a.zip",),
            conf={"spark.b": "2", "spark.a": "x=y z"},
            extra_args=("--verbose",),
            app_args=("--input", "s3a://b/in/", "--output", "s3a://b/out/"),
        )
    )
    assert argv == [
        SS,
        "--master",
        "yarn",
        "--deploy-mode",
        "cluster",
        "--py-files",
        "/p/a.zip",
        "--name",
        "n",
        "--conf",
        "spark.a=x=y z",
        "--conf",
        "spark.b=2",
        "--verbose",
        "/s/job.py",
        "--input",
        "s3a://b/in/",
        "--output",
        "s3a://b/out/",
    ]


def test_jar_app_with_main_class() -> None:
    argv = build_argv(spec(app="/j/app.jar", main_class="org.example.Main", app_args=("1",)))
    assert argv == [*HEAD, "--class", "org.example.Main", "/j/app.jar", "1"]


def test_standalone_cluster_jar_waits_for_completion() -> None:
    s = spec(app="/j/app.jar", master="spark://m:7077", deploy_mode="cluster", main_class="M")
    assert effective_conf(s) == {"spark.standalone.submit.waitAppCompletion": "true"}
    assert build_argv(s) == [
        SS,
        "--master",
        "spark://m:7077",
        "--deploy-mode",
        "cluster",
        "--class",
        "M",
        "--conf",
        "spark.standalone.submit.waitAppCompletion=true",
        "/j/app.jar",
    ]


def test_standalone_client_mode_does_not_force_wait() -> None:
    argv = build_argv(spec(master="spark://m:7077"))
    assert argv == [SS, "--master", "spark://m:7077", "--deploy-mode", "client", "/s/job.py"]


@pytest.mark.parametrize("master", ["yarn", "k8s://https://k:6443"])
def test_python_cluster_mode_allowed_outside_standalone(master: str) -> None:
    argv = build_argv(spec(master=master, deploy_mode="cluster"))
    assert argv == [SS, "--master", master, "--deploy-mode", "cluster", "/s/job.py"]


def test_python_app_in_standalone_cluster_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"cannot run in cluster deploy mode.*='client'"):
        build_argv(spec(master="spark://m:7077", deploy_mode="cluster"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"app": ""}, "app is empty"),
        ({"deploy_mode": "server"}, r"deploy mode 'server' is not one of"),
        ({"master": "local[2]", "deploy_mode": "cluster"}, "not possible with master 'local"),
        ({"main_class": "M"}, "main_class 'M' is set for Python application"),
        ({"executor_cores": 0}, r"executor_cores=0 must be a positive integer"),
        ({"num_executors": -1}, r"num_executors=-1 must be a positive integer"),
        ({"conf": {"fs.s3a.endpoint": "x"}}, r"conf key 'fs.s3a.endpoint' does not start"),
    ],
)
def test_validation_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_argv(spec(**kwargs))


@pytest.mark.parametrize(
    ("master", "manager"),
    [
        ("local", "local"),
        ("local[*]", "local"),
        ("local[2,3]", "local"),
        ("spark://h:7077", "standalone"),
        ("yarn", "yarn"),
        ("k8s://https://h", "k8s"),
        ("mesos://h:5050", "mesos"),
        ("localhost", "other"),
    ],
)
def test_cluster_manager(master: str, manager: str) -> None:
    assert cluster_manager(master) == manager


def test_kill_standalone_cluster_uses_spark_submit_kill() -> None:
    s = spec(app="/j/a.jar", main_class="M", master="spark://m:7077", deploy_mode="cluster")
    assert kill_argv(s, driver_id="driver-20261125083142-0001", app_id=None) == [
        SS,
        "--master",
        "spark://m:7077",
        "--kill",
        "driver-20261125083142-0001",
    ]
    assert kill_argv(s, driver_id=None, app_id="app-1") is None


def test_kill_yarn_cluster_uses_yarn_cli() -> None:
    s = spec(master="yarn", deploy_mode="cluster")
    assert kill_argv(s, driver_id=None, app_id="application_1_0002") == [
        "yarn",
        "application",
        "-kill",
        "application_1_0002",
    ]


def test_kill_k8s_cluster_uses_submission_id() -> None:
    s = spec(master="k8s://https://k:6443", deploy_mode="cluster")
    assert kill_argv(s, driver_id="spark:pi-driver", app_id=None) == [
        SS,
        "--master",
        "k8s://https://k:6443",
        "--kill",
        "spark:pi-driver",
    ]


@pytest.mark.parametrize("master", ["local[2]", "spark://m:7077", "yarn"])
def test_client_mode_has_no_remote_kill(master: str) -> None:
    assert kill_argv(spec(master=master), driver_id="driver-1", app_id="app-1") is None


def test_mask_by_value_anywhere() -> None:
    text = "key=AKIA-SECRET in url s3a://AKIA-SECRET@bucket and again AKIA-SECRET."
    assert mask(text, ["AKIA-SECRET"]) == "key=*** in url s3a://***@bucket and again ***."


def test_mask_longest_first_and_ignores_empty() -> None:
    assert mask("abc abcdef", ["", "abc", "abcdef"]) == f"{MASK} {MASK}"
    assert mask("unchanged", [""]) == "unchanged"


def test_mask_argv_masks_each_element() -> None:
    argv = ["spark-submit", "--conf", "spark.x.password=hunter2", "app.py"]
    masked = ["spark-submit", "--conf", "spark.x.password=***", "app.py"]
    assert mask_argv(argv, ["hunter2"]) == masked


@given(
    secret=st.text(min_size=1, max_size=20).filter(lambda s: MASK not in s and "*" not in s),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_mask_never_leaves_the_secret(secret: str, before: str, after: str) -> None:
    assert secret not in mask(before + secret + after, [secret])


def test_format_argv_quotes_for_shell() -> None:
    line = format_argv(["spark-submit", "--name", "a b", "x.py"])
    assert line == "spark-submit --name 'a b' x.py"
