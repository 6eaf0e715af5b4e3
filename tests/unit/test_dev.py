"""``luigi-ufo dev``'s luigi.cfg writer, env file, state file and the refusals before any start."""

from __future__ import annotations

import configparser
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest

from luigi_ufo.cli import dev_config as cfg
from luigi_ufo.cli import main as cli
from luigi_ufo.errors import ConfigError, ServiceError
from luigi_ufo.services.process import ProcessRef
from luigi_ufo.services.stack_state import DevState, Service, new_state, read_state, write_state
from luigi_ufo.settings.sections import check_all_sections, config_overrides

REPO = Path(__file__).resolve().parents[2]
PLAIN = cfg.Topology(
    scheduler_url="http://127.0.0.1:8082",
    spark_master="spark://127.0.0.1:7077",
    dsn="postgresql://postgres@127.0.0.1:5432/postgres",
    lake="/data/lake",
)
FULL = cfg.Topology(
    scheduler_url="http://127.0.0.1:8082",
    spark_master="spark://127.0.0.1:7077",
    dsn="postgresql://postgres@127.0.0.1:5432/postgres",
    lake="s3://luigi-ufo-dev/lake",
    s3_endpoint="http://127.0.0.1:5000",
    jars=("/j/hadoop-aws-3.3.4.jar", "/j/aws-java-sdk-bundle-1.12.262.jar"),
    connect_url="sc://127.0.0.1:15002",
)


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_the_config_points_every_section_at_the_topology() -> None:
    parsed = parse(cfg.render(PLAIN))
    assert parsed["core"]["default_scheduler_url"] == "http://127.0.0.1:8082"
    assert parsed["lake"]["root"] == "/data/lake"
    assert parsed["spark_script"]["master"] == "spark://127.0.0.1:7077"
    assert parsed["postgres_topn"]["dsn"] == "postgresql://postgres@127.0.0.1:5432/postgres"
    assert "s3_endpoint" not in parsed
    assert "jars" not in parsed["spark_script"]
    assert "mode" not in parsed["spark_script"]
    example = parse((REPO / "examples" / "luigi.cfg").read_text(encoding="utf-8"))
    assert dict(parsed["retcode"]) == dict(example["retcode"])


def test_s3_and_connect_add_the_endpoint_jars_and_mode_and_the_plugin_accepts_it() -> None:
    text = cfg.render(FULL)
    parsed = parse(text)
    assert parsed["s3_endpoint"]["endpoint_url"] == "http://127.0.0.1:5000"
    assert parsed["s3_endpoint"]["path_style"] == "true"
    assert parsed["spark_script"]["mode"] == "connect"
    assert parsed["spark_script"]["connect_url"] == "sc://127.0.0.1:15002"
    assert "aws-java-sdk-bundle-1.12.262.jar" in parsed["spark_script"]["jars"]
    # The plugin's own checks (which refuse credentials) read every section of it.
    with config_overrides() as set_option:
        for section in parsed.sections():
            for key, value in parsed[section].items():
                set_option(section, key, value)
        check_all_sections()
        from luigi_ufo.spark.settings import SparkSettings

        settings = SparkSettings.from_config()
    assert settings.jars == FULL.jars
    assert settings.connect
    assert settings.total_executor_cores == 1
    for word in ("testing", "secret", "password", "AWS_"):
        assert word not in text


def test_a_file_dev_did_not_write_is_not_overwritten_without_force(tmp_path: Path) -> None:
    path = tmp_path / "luigi.cfg"
    cfg.check_writable(path, force=False)  # absent
    path.write_text("", encoding="utf-8")
    cfg.check_writable(path, force=False)  # empty: nothing to lose
    cfg.write(path, cfg.render(PLAIN))
    cfg.check_writable(path, force=False)  # its own
    path.write_text("[core]\ndefault_scheduler_url = http://mine:8082\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not written by `luigi-ufo dev`; pass --force"):
        cfg.check_writable(path, force=False)
    cfg.check_writable(path, force=True)
    assert not list(tmp_path.glob(".*tmp"))


def test_the_env_file_is_private_and_sourcing_it_exports_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "dev" / "s3.env"
    cfg.write_env_file(path, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    out = subprocess.run(
        ["bash", "-c", f'source "{path}"; echo "$AWS_ACCESS_KEY_ID/${{AWS_PROFILE-unset}}"'],
        env={**os.environ, "AWS_PROFILE": "prod"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "testing/unset"


def _service(pid: int, started: float, name: str = "luigid") -> Service:
    return Service(name, "http://127.0.0.1:1", pid, started, ours=True)


def test_the_state_round_trips_and_knows_which_processes_are_alive(tmp_path: Path) -> None:
    path = tmp_path / "dev" / "state.json"
    assert read_state(path) is None
    me = os.getpid()
    mine = ProcessRef.current().started
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    while Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)  # exited, not yet reaped
    state = new_state(tmp_path / "luigi.cfg", None)
    for service in (
        _service(me, mine),
        _service(me, mine - 60, "reused-pid"),  # the kernel gave its PID to another process
        _service(gone.pid, mine, "exited"),
        _service(zombie.pid, mine, "zombie"),
    ):
        state = state.with_service(service)
    write_state(path, state)
    back = read_state(path)
    zombie.wait()
    assert back == state
    assert back.owner_alive()
    assert back.owner_pid == me
    assert [s.name for s in back.alive()] == ["luigid"]
    assert not list(path.parent.glob("*.tmp"))


def test_a_state_of_a_dead_owner_is_not_alive_and_a_broken_file_says_what_to_do(
    tmp_path: Path,
) -> None:
    state = DevState(owner_pid=os.getpid(), owner_started=1.0, config="luigi.cfg")
    assert not state.owner_alive()
    assert state.alive() == []
    path = tmp_path / "state.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ServiceError, match="delete it"):
        read_state(path)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LUIGI_UFO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LUIGI_UFO_SPARK_JARS", raising=False)
    monkeypatch.delenv("LUIGI_UFO_SPARK_JARS_DIR", raising=False)
    return tmp_path / "data"


def test_status_and_stop_with_nothing_running(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["dev", "status"]) == 3
    assert "not running" in capsys.readouterr().out
    assert cli.main(["dev", "stop"]) == 0


def test_refusals_come_before_any_service_starts(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "luigi.cfg"
    foreign.write_text("[core]\nlogging_conf_file = mine.conf\n", encoding="utf-8")
    assert cli.main(["dev", "--config", str(foreign)]) == 2
    assert "pass --force" in capsys.readouterr().err
    other = tmp_path / "other.cfg"
    assert cli.main(["dev", "--s3", "--config", str(other)]) == 2
    assert "--s3 needs the hadoop-aws" in capsys.readouterr().err
    assert cli.main(["dev", "--s3", "--jars", str(tmp_path / "nope.jar")]) == 2
    assert "missing files" in capsys.readouterr().err
    if int(pyspark.__version__.split(".")[0]) < 4:
        assert cli.main(["dev", "--connect", "--config", str(other)]) == 2
        assert "needs pyspark >= 4.0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["dev", "--spark-workers", "0"])
    assert exited.value.code == 2
    assert not (data_dir / "dev" / "state.json").exists()
    assert not other.exists()
