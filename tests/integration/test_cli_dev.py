"""``luigi-ufo dev``: the tutorial's cluster commands on its laptop cluster, and nothing left after.

Every process a ``dev`` starts inherits a marker environment variable, so the test finds any
survivor by environment, whoever adopted it after ``dev`` returned (as test_harness_teardown.py).
"""

from __future__ import annotations

import configparser
import datetime
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import psutil
import psycopg2
import pyspark
import pytest

from luigi_ufo.services.luigid import task_list_url
from luigi_ufo.services.process import ProcessRef
from luigi_ufo.services.readiness import http_get
from luigi_ufo.ufo.sample import write_sample
from tests import ufo_exports
from tests.other_account import other_account

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
DAYS = [datetime.date(2024, 2, 1), datetime.date(2024, 2, 2)]
MARK_VAR = "LUIGI_UFO_DEV_MARK"


def sh_blocks(section: str) -> list[str]:
    """The ``sh`` blocks of the tutorial's section titled ``section``."""
    text = TUTORIAL.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", body, flags=re.S)]


def cluster_commands() -> str:
    """The tutorial cluster section's second ``sh`` block: import two dates, then backfill."""
    blocks = sh_blocks("On a cluster, by configuration only")
    assert len(blocks) == 2, blocks
    assert "RangeDaily --of TopStatesToDatabase" in blocks[1], blocks
    return blocks[1]


def laptop_config() -> str:
    """The laptop section's block that writes ./luigi.cfg (``dsn = $(luigi-ufo db url)``)."""
    (block,) = [b for b in sh_blocks("On a laptop") if b.startswith("cat > luigi.cfg")]
    return block


def dev_commands() -> tuple[str, list[list[str]]]:
    """The laptop cluster section's commands: the laptop luigi.cfg moved aside, then start
    detached, status and stop, as argv."""
    aside, *blocks = sh_blocks("On a laptop cluster: luigi-ufo dev")
    assert aside == "mv luigi.cfg laptop.cfg"
    assert blocks == ["luigi-ufo dev --detach", "luigi-ufo dev status", "luigi-ufo dev stop"]
    return aside, [shlex.split(block)[1:] for block in blocks]


def bash(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def marked(mark: str) -> dict[int, str]:
    """Live processes carrying ``mark``: what a ``dev`` of this test started."""
    found: dict[int, str] = {}
    for proc in psutil.process_iter(["pid", "name", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            if proc.environ().get(MARK_VAR) == mark:
                found[proc.pid] = f"{proc.info['name']}: {' '.join(proc.cmdline())[:160]}"
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def assert_clean(mark: str, data: Path) -> None:
    deadline = time.monotonic() + 15
    while (left := marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == {}
    # As .ci/run looks: no service process names this test's data directory.
    pgrep = subprocess.run(["pgrep", "-af", str(data)], capture_output=True, text=True)
    assert pgrep.stdout == "", pgrep.stdout


@pytest.fixture
def dev_env(home: dict[str, str]) -> tuple[dict[str, str], str]:
    mark = uuid.uuid4().hex
    env = {k: v for k, v in home.items() if not k.startswith(("PG", "AWS_"))}
    env.pop("LUIGI_CONFIG_PATH")  # Luigi reads the ./luigi.cfg dev writes
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env[MARK_VAR] = mark
    return env, mark


def luigi_ufo(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["luigi-ufo", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def services(stdout: str) -> dict[str, tuple[str, int]]:
    """``name -> (url, pid)`` from the status lines ``dev`` prints."""
    lines = re.findall(r"^(\S+)\s+(\S+)\s.*\bpid (\d+)", stdout, re.M)
    return {name: (url, int(pid)) for name, url, pid in lines}


@pytest.mark.timeout(1200)
def test_dev_runs_the_tutorial_cluster_commands_and_stops_clean(
    dev_env: tuple[dict[str, str], str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env, mark = dev_env
    data = Path(env["LUIGI_UFO_DATA_DIR"])
    work = tmp_path / "work"
    work.mkdir()
    export = work / "export.csv.gz"
    write_sample(export, 2_000, seed=1, compress=True)
    kept = luigi_ufo(env, work, "db", "start")  # found running: dev leaves it as it was
    assert kept.returncode == 0, kept.stderr
    # The directory as the laptop section leaves it, so the tutorial runs top to bottom in one.
    laptop = bash(laptop_config(), work, env)
    assert laptop.returncode == 0, laptop.stderr
    assert (work / "luigi.cfg").exists()

    aside, (start_cmd, status_cmd, stop_cmd) = dev_commands()
    moved = bash(aside, work, env)
    assert moved.returncode == 0, moved.stderr
    began = time.monotonic()
    up = luigi_ufo(env, work, *start_cmd)
    # A failure below must not leave the detached services running (stop twice is harmless).
    request.addfinalizer(lambda: luigi_ufo(env, work, *stop_cmd))
    assert up.returncode == 0, up.stderr
    started = services(up.stdout)
    assert set(started) == {"luigid", "spark-master", "spark-worker-1", "postgres"}, up.stdout
    assert re.search(r"^postgres .*left running at stop", up.stdout, re.M), up.stdout
    config = configparser.ConfigParser(interpolation=None)
    config.read(work / "luigi.cfg")
    luigid_url = started["luigid"][0]
    assert config["core"]["default_scheduler_url"] == luigid_url
    assert config["spark_script"]["master"] == started["spark-master"][0]
    assert config["postgres_topn"]["dsn"] == started["postgres"][0]
    for name, (url, _) in started.items():  # loopback only; PostgreSQL on its private socket
        if name == "postgres":
            assert url.startswith(f"postgresql://luigi_ufo@/luigi_ufo?host={data}/postgres/"), url
        else:
            assert "//127.0.0.1:" in url, url
    visualiser = http_get(f"{luigid_url}/static/visualiser/index.html", timeout=10)
    assert b"Luigi Task Visualiser" in visualiser or b"luigi" in visualiser.lower()

    second = luigi_ufo(env, work, *start_cmd)
    assert second.returncode == 1, second
    assert "already running" in second.stderr
    assert services(second.stdout) == started

    result = bash(cluster_commands(), work, env)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])

    ranked = ufo_exports.count_file(export).top(10)  # the tests' own R1 counter
    with psycopg2.connect(started["postgres"][0]) as conn, conn.cursor() as cur:
        for day in DAYS:
            cur.execute(
                "SELECT state, sightings FROM ufo_top_states WHERE date = %s ORDER BY rank",
                (day,),
            )
            assert cur.fetchall() == ranked, day
    conn.close()
    done = json.loads(http_get(task_list_url(luigid_url, "DONE"), timeout=10))["response"]
    loaded = {t["params"]["date"] for t in done.values() if t["name"] == "TopStatesToDatabase"}
    assert loaded == {d.isoformat() for d in DAYS}, done.keys()

    status = luigi_ufo(env, work, *status_cmd)
    assert status.returncode == 0, status
    listed = services(status.stdout)
    assert listed.pop("luigi-ufo")[0] == "dev"
    assert listed == started
    assert "(detached)" in status.stdout

    stop = luigi_ufo(env, work, *stop_cmd)
    assert stop.returncode == 0, stop
    print(f"dev start + tutorial cluster commands + stop: {time.monotonic() - began:.0f} s")
    assert luigi_ufo(env, work, "dev", "status").returncode == 3
    for name, (_, pid) in started.items():  # (a zombie not reaped yet by its new parent is gone)
        assert (ProcessRef.of(pid) is not None) == (name == "postgres"), name  # `db start` kept it
    assert luigi_ufo(env, work, "db", "status").returncode == 0
    assert luigi_ufo(env, work, "db", "stop").returncode == 0
    assert_clean(mark, data)


def _default_sigint() -> None:
    # Popen of a test may inherit an ignored SIGINT; dev (like Python) would leave it ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.timeout(900)
def test_ctrl_c_on_the_foreground_dev_stops_everything_with_s3_and_connect_exit_130(
    dev_env: tuple[dict[str, str], str], tmp_path: Path, s3a_jars: list[str]
) -> None:
    env, mark = dev_env
    data = Path(env["LUIGI_UFO_DATA_DIR"])
    env["LUIGI_UFO_SPARK_JARS"] = ",".join(s3a_jars)
    config_path = tmp_path / "dev.cfg"
    began = time.monotonic()
    # pyspark 3.5 has no Connect server: dev refuses --connect there (a unit test checks it).
    connect = int(pyspark.__version__.split(".")[0]) >= 4
    proc = subprocess.Popen(
        ["luigi-ufo", "dev", "--s3", "--config", str(config_path)] + ["--connect"] * connect,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        err = ""
        deadline = time.monotonic() + 600
        while "dev: up" not in err and proc.poll() is None and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 1.0)[0]:
                err += proc.stderr.readline()  # type: ignore[union-attr]
        assert "dev: up" in err, err
        status = luigi_ufo(env, tmp_path, "dev", "status")
        running = services(status.stdout)
        assert "(in the foreground)" in status.stdout
        assert {"s3", "luigid", "spark-master", "postgres"} <= set(running), status.stdout
        config = configparser.ConfigParser(interpolation=None)
        config.read(config_path)
        assert config["s3_endpoint"]["endpoint_url"] == running["s3"][0]
        assert config["lake"]["root"].startswith("s3://")
        if connect:
            assert config["spark_script"]["mode"] == "connect"
            assert config["spark_script"]["connect_url"] == running["spark-connect"][0]
            # The Connect server runs on dev's own Spark master.
            master_web = re.search(r"^spark-master\s+\S+\s+web (\S+)", status.stdout, re.M)
            assert master_web is not None
            apps = json.loads(http_get(f"{master_web.group(1)}/json/"))["activeapps"]
            assert any("Spark Connect" in app["name"] for app in apps), apps
        # The env file's keys (and no others) reach the moto lake, whose bucket dev made.
        env_file = re.search(r"^env file\s+(\S+)", status.stdout, re.M)
        assert env_file is not None
        keys = dict(re.findall(r"^export (\w+)=(\S+)$", Path(env_file.group(1)).read_text(), re.M))
        s3 = boto3.client(
            "s3",
            endpoint_url=running["s3"][0],
            region_name=keys["AWS_DEFAULT_REGION"],
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        )
        bucket = config["lake"]["root"].split("/")[2]
        assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        values = [v for section in config.sections() for v in config[section].values()]
        assert keys["AWS_SECRET_ACCESS_KEY"] not in values

        proc.send_signal(signal.SIGINT)
        _out, rest = proc.communicate(timeout=180)
    finally:  # a failure above leaves no running process and open pipe to a later test
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    print(f"dev --s3 --connect start + Ctrl-C: {time.monotonic() - began:.0f} s")
    assert proc.returncode == 130, err + rest
    assert "interrupted by SIGINT" in rest
    assert luigi_ufo(env, tmp_path, "dev", "status").returncode == 3
    assert not (data / "dev" / "state.json").exists()
    assert_clean(mark, data)


# A JVM application (the other account cannot run the owner's interpreter, which may live in a
# private directory): one job on the cluster, then exit.
PROBE = 'println("COUNT " + spark.range(3).count())\nSystem.exit(0)\n'


@pytest.mark.timeout(900)
def test_another_local_account_cannot_use_the_dev_cluster(
    dev_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, mark = dev_env
    data = Path(env["LUIGI_UFO_DATA_DIR"])
    work = tmp_path / "work"
    work.mkdir()
    probe = Path(tempfile.mkdtemp(prefix="luigi-ufo-probe-")) / "probe.scala"
    probe.parent.chmod(0o755)
    probe.write_text(PROBE)
    probe.chmod(0o644)
    up = luigi_ufo(env, work, "dev", "--detach")
    assert up.returncode == 0, up.stderr
    try:
        started = services(up.stdout)
        master = started["spark-master"][0]
        config = configparser.ConfigParser(interpolation=None)
        config.read(work / "luigi.cfg")
        auth = config["spark_script"].get("properties_file")
        shell = [str(Path(pyspark.__file__).parent / "bin" / "spark-shell"), "--master", master]
        shell += ["--conf", "spark.cores.max=1", "--conf", "spark.executor.memory=512m"]
        java = {"JAVA_HOME": env["JAVA_HOME"]} if env.get("JAVA_HOME") else {}

        def probe_argv(name: str, *extra: str) -> list[str]:
            return [*shell, "--name", name, *extra, "-I", str(probe)]

        # The control: the owner, with the secret's file, runs a job on the cluster.
        mine = subprocess.run(
            probe_argv("owner", *(["--properties-file", auth] if auth else [])),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert "COUNT 3" in mine.stdout, mine.stderr[-3000:]
        with other_account() as other:
            tried = other.run(probe_argv("intruder"), env=java, timeout=400)
            assert "COUNT 3" not in tried.stdout, tried.stderr[-3000:]
        web = re.search(r"^spark-master\s+\S+\s+web (\S+)", up.stdout, re.M)
        assert web is not None
        doc = json.loads(http_get(f"{web.group(1)}/json/"))
        names = [a["name"] for a in doc["activeapps"] + doc["completedapps"]]
        assert names == ["owner"], names
        assert auth is not None
        assert Path(auth).stat().st_mode & 0o077 == 0
    finally:
        luigi_ufo(env, work, "dev", "stop")
        shutil.rmtree(probe.parent)
    assert_clean(mark, data)


@pytest.mark.timeout(900)
def test_a_new_dev_finishes_what_a_sigkilled_foreground_dev_left_running(
    dev_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, mark = dev_env
    data = Path(env["LUIGI_UFO_DATA_DIR"])
    proc = subprocess.Popen(
        ["luigi-ufo", "dev"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        err = ""
        deadline = time.monotonic() + 600
        while "dev: up" not in err and proc.poll() is None and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 1.0)[0]:
                err += proc.stderr.readline()  # type: ignore[union-attr]
        assert "dev: up" in err, err
    finally:
        proc.kill()  # SIGKILL: no cleanup at all
        proc.communicate()
    status = luigi_ufo(env, tmp_path, "dev", "status")
    left = services(status.stdout)
    left.pop("luigi-ufo")
    assert {"luigid", "spark-master", "spark-worker-1", "postgres"} <= set(left), status.stdout
    assert "(detached)" not in status.stdout
    assert "killed before it could stop what it started" in status.stdout
    assert all(ProcessRef.of(pid) is not None for _, pid in left.values())

    again = luigi_ufo(env, tmp_path, "dev", "--detach")
    assert again.returncode == 0, again.stderr
    assert f"luigi-ufo dev (pid {proc.pid}) was killed and left" in again.stderr
    for name, (_, pid) in left.items():
        assert ProcessRef.of(pid) is None, f"{name} (pid {pid}) of the killed dev still runs"
    assert "(detached)" in luigi_ufo(env, tmp_path, "dev", "status").stdout
    assert luigi_ufo(env, tmp_path, "dev", "stop").returncode == 0
    assert_clean(mark, data)
