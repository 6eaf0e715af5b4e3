"""Spark Connect mode without a server: settings, the script guard, the pyspark version check."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from luigi_ufo.errors import ConfigError, ConnectUnsupportedError
from luigi_ufo.services.spark_connect import client_url, connect_jar, server_conf
from luigi_ufo.settings.sections import config_overrides
from luigi_ufo.spark.connect.guard import CLASSIC_ONLY, check_connect_script, find_unsupported
from luigi_ufo.spark.connect.runner import (
    require_connect_client,
    server_argv,
    session_conf,
)
from luigi_ufo.spark.connect.sessions import (
    SessionEnd,
    SessionRecord,
    end_client_session,
    read_records,
    record_path,
    remove_records,
    session_url,
    settle_after,
    time_s,
    write_records,
)
from luigi_ufo.spark.lease import lease_path
from luigi_ufo.spark.settings import SparkSettings
from luigi_ufo.spark.task import ExternalSparkScriptTask
from luigi_ufo.uris import local_path

PACKAGED = Path(__file__).parents[2] / "src" / "spark"
PROBES = Path(__file__).parents[1] / "integration" / "spark_scripts"


@pytest.mark.parametrize("version", ["3.5.3", "3.5.0", "3.4.1"])
def test_pyspark_35_gets_a_clear_error(version: str) -> None:
    with pytest.raises(ConfigError) as info:
        require_connect_client(version)
    message = str(info.value)
    assert f"pyspark {version} is installed" in message
    assert "pyspark >= 4.0" in message
    assert "Maven" in message
    assert "mode = submit" in message


def test_pyspark_4_passes_the_version_check() -> None:
    require_connect_client("4.0.1")
    require_connect_client("4.3.0.dev1")


def test_a_class_attribute_named_like_a_setting_is_refused_naming_spark_overrides() -> None:
    with pytest.raises(
        ConfigError,
        match=r"OldStyle: class attribute\(s\) mode, connect_url .*"
        r"spark_overrides = \{'mode': \.\.\., 'connect_url': \.\.\.\}",
    ):

        class OldStyle(ExternalSparkScriptTask):
            mode = "connect"
            connect_url = "sc://10.0.0.9:15002"


def test_mode_and_url_come_from_the_spark_section_and_task_overrides() -> None:
    class Task(ExternalSparkScriptTask):
        spark_overrides = {"connect_url": "sc://10.0.0.5:15002"}  # noqa: RUF012

    with config_overrides() as set_option:
        default = Task().spark_settings()
        assert (default.mode, default.connect) == ("submit", False)
        set_option("spark_script", "mode", "connect")
        set_option("spark_script", "connect_url", "sc://127.0.0.1:4242")
        assert SparkSettings.from_config().connect_url == "sc://127.0.0.1:4242"
        settings = Task().spark_settings()
        assert settings.connect
        assert settings.connect_url == "sc://10.0.0.5:15002"


def test_unknown_mode_and_bad_url_are_refused_with_the_fix() -> None:
    with pytest.raises(
        ConfigError, match=r"\['mode'\] = 'remote' is invalid: expected one of submit, connect"
    ):
        SparkSettings.of({"mode": "remote"})
    with pytest.raises(ConfigError, match=r"is invalid: .*a Spark Connect URL sc://host:port"):
        SparkSettings.of({"connect_url": "http://127.0.0.1:15002"})
    with config_overrides() as set_option:
        set_option("spark_script", "mode", "remote")
        with pytest.raises(ConfigError, match=r"\[spark_script\] mode = 'remote' is invalid"):
            SparkSettings.from_config()


def test_a_token_in_the_url_is_refused_without_showing_it() -> None:
    url = "sc://localhost:15002/;token=s3cr3t-value"
    with pytest.raises(ConfigError) as from_task:
        SparkSettings.of({"connect_url": url})
    with config_overrides() as set_option:
        set_option("spark_script", "connect_url", url)
        with pytest.raises(ConfigError) as from_config:
            SparkSettings.from_config()
    for info in (from_task, from_config):
        assert "s3cr3t-value" not in str(info.value)
        assert "SPARK_CONNECT_AUTHENTICATE_TOKEN" in str(info.value)


def test_guard_names_every_sparkcontext_rdd_and_jvm_use_with_its_line() -> None:
    source = (
        "from pyspark import SparkContext\n"
        "def main(argv, spark):\n"
        "    sc = spark.sparkContext\n"
        "    fs = spark._jvm.org.apache.hadoop.fs.Path('x')\n"
        "    rows = spark.range(3).rdd.map(str)\n"
        "    return 0\n"
    )
    found = [(f.line, f.code) for f in find_unsupported(source)]
    assert found == [
        (1, "from pyspark import SparkContext"),
        (3, "spark.sparkContext"),
        (4, "spark._jvm"),
        (5, "spark.range(3).rdd"),
    ]


def test_guard_accepts_only_the_lines_marked_classic_only(tmp_path: Path) -> None:
    source = (
        "from pyspark import SparkContext  # spark-connect: classic-only\n"
        "def main(argv, spark):\n"
        "    if is_classic(spark):\n"
        "        sc = spark.sparkContext  # noqa: F841  #spark-connect:classic-only\n"
        "    note = '# spark-connect: classic-only'; fs = spark._jvm\n"
        "    rows = spark.range(3).rdd  # spark-connect: classic\n"
        "    return 0\n"
    )
    found = [(f.line, f.code) for f in find_unsupported(source)]
    # A pragma inside a string, or a different word, marks nothing.
    assert found == [(5, "spark._jvm"), (6, "spark.range(3).rdd")]
    marked = tmp_path / "marked.py"
    marked.write_text(source, encoding="utf-8")
    unmarked = tmp_path / "unmarked.py"
    unmarked.write_text(CLASSIC_ONLY.sub("", source), encoding="utf-8")
    with pytest.raises(ConnectUnsupportedError) as marked_error:
        check_connect_script(marked)
    with pytest.raises(ConnectUnsupportedError) as unmarked_error:
        check_connect_script(unmarked)
    # The same message for what stays refused; the unmarked file also names the marked uses.
    lines = str(unmarked_error.value).replace(str(unmarked), str(marked)).splitlines()
    kept = [line for line in lines if "line 1:" not in line and "line 4:" not in line]
    assert str(marked_error.value).splitlines() == kept
    assert "  line 1: `from pyspark import SparkContext` (SparkContext)" in lines
    assert "  line 4: `spark.sparkContext` (SparkContext)" in lines


def test_packaged_scripts_are_dataframe_only_and_their_classic_path_is_in_local_lake() -> None:
    for name in ("aggregate_by_state.py", "top_10.py", "nuforc.py"):
        source = (PACKAGED / name).read_text(encoding="utf-8")
        assert find_unsupported(CLASSIC_ONLY.sub("", source)) == [], name
    # The one module with classic-only lines passes the guard through their marks.
    helper = PACKAGED / "local_lake.py"
    check_connect_script(helper)
    unmarked = find_unsupported(CLASSIC_ONLY.sub("", helper.read_text(encoding="utf-8")))
    assert {f.what for f in unmarked} >= {"SparkContext"}


def test_guard_passes_a_dataframe_only_script() -> None:
    assert find_unsupported((PROBES / "connect_probe.py").read_text()) == []


def test_guard_refuses_the_rdd_probe_saying_use_submit_mode() -> None:
    with pytest.raises(ConnectUnsupportedError) as info:
        check_connect_script(PROBES / "probe.py")
    message = str(info.value)
    assert "spark.sparkContext" in message
    assert "line " in message
    assert "mode = submit" in message


def test_session_conf_keeps_only_runtime_sql_settings() -> None:
    conf = {"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"}
    assert session_conf(conf) == {"spark.sql.shuffle.partitions": "2"}


def test_server_conf_binds_the_given_address_and_bounds_abandoned_operations() -> None:
    conf = server_conf(host="127.0.0.1", port=15002, ui_port=None)
    assert conf["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert conf["spark.connect.grpc.binding.port"] == "15002"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.connect.execute.manager.detachedTimeout"] == "30s"


def test_client_url_uses_localhost_when_a_token_travels_without_tls() -> None:
    assert client_url("127.0.0.1", 15002, token=False) == "sc://127.0.0.1:15002"
    assert client_url("127.0.0.1", 15002, token=True) == "sc://localhost:15002"


def test_connect_jar_is_missing_from_a_home_without_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no jars/spark-connect_\*\.jar"):
        connect_jar(tmp_path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sc://127.0.0.1:15002", "sc://127.0.0.1:15002/;session_id=S"),
        ("sc://h:1/", "sc://h:1/;session_id=S"),
        ("sc://h:1/;use_ssl=true", "sc://h:1/;use_ssl=true;session_id=S"),
        ("sc://h:1/;session_id=old;user_id=u", "sc://h:1/;user_id=u;session_id=S"),
    ],
)
def test_session_url_joins_the_session_by_id(url: str, expected: str) -> None:
    assert session_url(url, "S") == expected


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("data/x.csv", "data/x.csv"),
        ("/lake/x", "/lake/x"),
        ("file:///lake/x", "/lake/x"),
        ("file:data/x", "data/x"),
        ("s3a://b/k", None),
        ("hdfs://nn:8020/x", None),
        ("gs://b/x", None),
    ],
)
def test_local_path_tells_file_system_paths_from_other_schemes(uri: str, path: str | None) -> None:
    assert local_path(uri) == path


def test_relative_target_paths_become_the_worker_s_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: the server resolved relative paths against its own working directory."""
    monkeypatch.chdir(tmp_path)
    argv = ["--input", "data/in.csv", "s3a://b/k", "--output", "/abs/out", "--flag", "data/in.csv"]
    uris = ["data/in.csv", "s3a://b/k", "/abs/out"]
    expected = str(tmp_path / "data" / "in.csv")
    assert server_argv(argv, uris, "sc://127.0.0.1:15002") == [
        "--input", expected, "s3a://b/k", "--output", "/abs/out", "--flag", expected,
    ]  # fmt: skip
    # Arguments that are not the task's inputs or outputs are the script's business.
    assert server_argv(["conf/x.yml"], uris, "sc://localhost:15002") == ["conf/x.yml"]


@pytest.mark.parametrize("path", ["data/in.csv", "/data/in.csv"])
def test_a_local_path_for_a_server_on_another_host_is_refused_with_the_fix(path: str) -> None:
    with pytest.raises(ConfigError) as info:
        server_argv(["--input", path], [path], "sc://10.1.2.3:15002")
    message = str(info.value)
    assert f"{path!r} is a path on this host" in message
    assert "sc://10.1.2.3:15002 runs on another host" in message
    assert "s3://" in message
    assert "file:///" in message
    assert "mode = submit" in message


def test_a_file_uri_or_a_remote_uri_passes_to_a_server_on_another_host() -> None:
    uris = ["file:///shared/in.csv", "s3a://b/k"]
    assert server_argv(uris, uris, "sc://10.1.2.3:15002") == uris


def test_session_records_sit_beside_the_leases_and_name_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUIGI_UFO_RUNTIME_DIR", str(tmp_path / "run"))
    record = SessionRecord("sc://127.0.0.1:15002", "5c1d-id", "42-1700000000000", 1.5)
    uris = [str(tmp_path / "a"), str(tmp_path / "b") + "/"]
    write_records(uris, record)
    assert read_records([*uris, str(tmp_path / "c")]) == {
        record: sorted([str(tmp_path / "a"), str(tmp_path / "b")])
    }
    files = sorted((tmp_path / "run").iterdir())
    assert [f.stat().st_mode & 0o777 for f in files] == [0o600, 0o600]
    assert {f.with_suffix(".lock") for f in files} == {lease_path(u) for u in uris}
    assert json.loads(files[0].read_text()) == {
        "url": "sc://127.0.0.1:15002",
        "session_id": "5c1d-id",
        "owner": "42-1700000000000",
        "started_at": 1.5,
    }
    record_path(str(tmp_path / "b")).write_text("{not json")  # damaged: names no session
    assert list(read_records(uris).values()) == [[str(tmp_path / "a")]]
    remove_records(uris)
    assert list((tmp_path / "run").iterdir()) == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("2s", 2.0), ("500ms", 0.5), ("2000", 2.0), ("1min", 60.0)]
)
def test_spark_time_strings(text: str, seconds: float) -> None:
    assert time_s(text) == seconds


def test_the_settle_time_covers_spark_s_kill_of_a_cancelled_python_task() -> None:
    # Spark looks every 2 s, then waits spark.python.task.killTimeout before killing.
    assert settle_after("2s") == 2.0 + 2.0 + 3.0
    assert settle_after("10s") == 15.0
    assert settle_after("nonsense") == settle_after("2s")


class OldClient:
    """A SparkConnectClient stand-in of a pyspark without GetStatus."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def interrupt_all(self) -> list[str]:
        self.calls.append("interrupt")
        return ["op1"]

    def release_session(self) -> None:
        self.calls.append("release")

    def get_config_with_defaults(self, *pairs: tuple[str, str]) -> tuple[str, ...]:
        return tuple(default for _, default in pairs)


class StatusClient(OldClient):
    """A SparkConnectClient stand-in whose session's operations end as scripted."""

    def __init__(self, rounds: list[dict[str, int]] | Exception) -> None:
        super().__init__()
        self.rounds = rounds

    def _get_operation_statuses(self) -> Any:
        self.calls.append("status")
        if isinstance(self.rounds, Exception):
            raise self.rounds
        states = self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]
        ops = [SimpleNamespace(operation_id=k, state=v) for k, v in states.items()]
        return SimpleNamespace(operation_statuses=ops)


RUNNING, TERMINATING, SUCCEEDED, CANCELLED = 2, 3, 4, 6


def test_ending_a_session_waits_for_its_operations_then_settles() -> None:
    client = StatusClient(
        [{"op1": RUNNING}, {"op1": RUNNING}, {"op1": TERMINATING}, {"op1": CANCELLED}]
    )
    ended = end_client_session(client)
    assert client.calls == ["status", "interrupt", "status", "status", "status", "release"]
    assert ended == SessionEnd(found=("op1",), interrupted=("op1",), settle_s=settle_after("2s"))


def test_the_script_s_own_session_is_not_asked_for_first() -> None:
    client = StatusClient([{"op1": SUCCEEDED, "op2": SUCCEEDED}])
    ended = end_client_session(client, own=True)
    assert client.calls == ["interrupt", "status", "release"]
    assert ended == SessionEnd(found=("op1", "op2"), interrupted=("op1",), settle_s=0.0)


def test_a_session_whose_operations_all_succeeded_needs_no_settling() -> None:
    client = StatusClient([{"op1": SUCCEEDED}])
    assert end_client_session(client).settle_s == 0.0
    assert client.calls[-1] == "release"


def test_a_session_the_server_never_had_needs_nothing() -> None:
    client = StatusClient(RuntimeError("[INVALID_HANDLE.SESSION_NOT_FOUND] ..."))
    ended = end_client_session(client)
    assert ended.settle_s == 0.0
    assert "never started" in ended.note
    assert client.calls == ["status"]


def test_a_session_already_released_is_given_the_settle_time() -> None:
    client = StatusClient(RuntimeError("[INVALID_HANDLE.SESSION_CLOSED] ..."))
    ended = end_client_session(client)
    assert ended.settle_s == settle_after("2s")
    assert client.calls == ["status"]


def test_a_client_without_get_status_interrupts_releases_and_settles() -> None:
    client = OldClient()
    ended = end_client_session(client)
    assert client.calls == ["interrupt", "release"]
    assert ended.settle_s == settle_after("2s")


def test_operations_that_never_end_make_ending_fail() -> None:
    client = StatusClient([{"op1": RUNNING}])
    with pytest.raises(RuntimeError, match=r"\['op1'\] of the session still run 0.3 s"):
        end_client_session(client, wait_s=0.3)
    assert "release" not in client.calls
