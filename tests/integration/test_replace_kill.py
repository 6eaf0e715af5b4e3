"""Kill points of a partition replacement: SIGKILL the Spark application at the delete and at
the write, then check that no success flag lies and that a rerun gives the exact result.

The kill is placed deterministically: a test-only Hadoop local file system
(spark_scripts/PausingLocalFileSystem.java, compiled here) blocks at the named point and says so
through a FIFO; the test then kills the whole spark-submit process tree.

These are kill tests of the scripts' DataFrame path: a session whose ``file:`` is not Hadoop's
plain local file system (here the pausing one) must see every write, so the scripts do not take
their local-lake path, whose Python writer has its own kill tests
(tests/unit/test_local_replace_kill.py). The scripts keep no flag logic of their own: each test
first removes the output flags, as their task does before it launches them, and so does a plain
DataFrame script's (the last test, with the control that shows the flag lying without it).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from luigi_ufo.dated import DatedTarget
from luigi_ufo.errors import SparkSubmitError
from luigi_ufo.services.spark_home import spark_home
from luigi_ufo.spark.settings import default_spark_submit
from luigi_ufo.spark.task import remove_flags
from luigi_ufo.testing import missing
from luigi_ufo.ufo.tasks import AggregateUFOsByState, TopTenStates

# Three cold spark-submits per test: minutes each on a loaded 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

SPARK_SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SPARK_SCRIPTS))  # probe_tasks must be importable by name

from probe_tasks import DATE, Probe  # noqa: E402

#: The packaged scripts (LUIGI_UFO_TEST_SCRIPTS_DIR runs these tests against another copy,
#: e.g. main's, to see them fail there).
SCRIPTS = Path(
    os.environ.get("LUIGI_UFO_TEST_SCRIPTS_DIR", Path(__file__).resolve().parents[2] / "src/spark")
)
HEADER = "Date / Time,City,State,Shape,Duration,Summary,Posted\n"
JAVA_CLASS = "PausingLocalFileSystem"
PAUSE_TIMEOUT_S = 600.0
SetConfig = Callable[[str, str, str], None]


@pytest.fixture(scope="module")
def pausing_fs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compile the pausing file system; return the directory of its class."""
    javac = shutil.which("javac")
    if javac is None:
        missing("javac (a JDK) is needed to build the test file system; install a JDK")
    out = tmp_path_factory.mktemp("pausing-fs")
    jars = spark_home() / "jars" / "*"
    subprocess.run(
        [javac, "-cp", str(jars), "-d", str(out), str(SPARK_SCRIPTS / f"{JAVA_CLASS}.java")],
        check=True,
        capture_output=True,
    )
    return out


def export(rows: dict[str, int]) -> bytes:
    """Return an export with ``rows[state]`` records per state (every one counted by R1)."""
    line = "1/1/19 20:00,Town,{},Disk,5 min,seen,1/2/19\n"
    return (HEADER + "".join(line.format(state) * n for state, n in rows.items())).encode()


def read_dataset(directory: Path) -> dict[str, int] | None:
    """Return {key: count} of a complete dataset, or None if it has no flag."""
    if not (directory / "_SUCCESS").exists():
        return None
    parts = sorted(directory.glob("part-*"))
    assert parts, f"{directory} has a _SUCCESS flag but no part file: the flag lies"
    rows: dict[str, int] = {}
    for part in parts:
        with part.open(encoding="utf-8", newline="") as fh:
            for key, value in list(csv.reader(fh))[1:]:
                rows[key] = rows.get(key, 0) + int(value)
    return rows


def assert_dataframe_writer(directory: Path) -> None:
    """The DataFrame writer wrote the dataset (part-00000-<uuid>-c000.csv), not the fast path."""
    (part,) = directory.glob("part-*")
    assert part.name.endswith("-c000.csv"), part.name


def py_files(script: str) -> list[str]:
    """Return ``--py-files`` of the modules ``script`` imports (its task's ``script_files``),
    as the docs run the packaged scripts by hand."""
    tasks = {t.script: t.script_files for t in (AggregateUFOsByState, TopTenStates)}
    files = tasks.get(script, ())
    return ["--py-files", ",".join(str(SCRIPTS / f) for f in files)] if files else []


def spark_submit(
    script: str, args: list[str], pause: dict[str, str] | None, fs_dir: Path
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    env.update(pause or {})
    argv = [
        default_spark_submit(),
        "--master",
        "local[2]",
        "--driver-class-path",
        str(fs_dir),
        "--conf",
        f"spark.hadoop.fs.file.impl={JAVA_CLASS}",
        "--conf",
        "spark.hadoop.fs.file.impl.disable.cache=true",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.driver.extraJavaOptions=-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        *py_files(script),
        str(SCRIPTS / script),
        *args,
    ]
    return subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run_to_end(script: str, args: list[str], fs_dir: Path) -> str:
    proc = spark_submit(script, args, None, fs_dir)
    out, _ = proc.communicate(timeout=PAUSE_TIMEOUT_S)
    assert proc.returncode == 0, out[-3000:]
    return out


def kill_tree(proc: subprocess.Popen[str]) -> None:
    """SIGKILL spark-submit's JVM and every process under it (Python driver and workers)."""
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    os.killpg(proc.pid, signal.SIGKILL)
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(tree, timeout=30)
    proc.communicate()


def run_and_kill_at(
    script: str, args: list[str], point: str, directory: Path, fs_dir: Path, tmp: Path
) -> None:
    """Start the script, wait until it blocks at ``point`` on ``directory``, then kill it."""
    fifo = tmp / f"pause-{point}.fifo"
    os.mkfifo(fifo)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.append(fifo.read_text()), daemon=True)
    reader.start()
    pause = {"PAUSE_DIR": str(directory), "PAUSE_AT": point, "PAUSE_FIFO": str(fifo)}
    proc = spark_submit(script, args, pause, fs_dir)
    try:
        while reader.is_alive() and proc.poll() is None:
            reader.join(timeout=0.5)
        if not seen:
            with open(fifo, "w", encoding="utf-8"):  # unblock the reader thread
                pass
            out = proc.communicate(timeout=PAUSE_TIMEOUT_S)[0]
            pytest.fail(f"{script} ended (exit {proc.returncode}) before {point!r}:\n{out[-3000:]}")
        assert seen == [f"{point}\n"]
    finally:
        if proc.poll() is None:
            kill_tree(proc)


def aggregate_args(raw: Path, outputs: list[DatedTarget]) -> list[str]:
    states, rejected = (t.path for t in outputs)
    return ["--input", str(raw), "--output", states, "--rejected-output", rejected]


@pytest.mark.parametrize("point", ["delete", "write"])
def test_aggregate_killed_while_replacing_leaves_no_lying_flag(
    pausing_fs: Path, tmp_path: Path, point: str
) -> None:
    raw, lake = tmp_path / "raw", tmp_path / "lake"
    raw.mkdir()
    outputs = [DatedTarget(str(lake / name), DATE) for name in ("by_state", "rejected")]
    states, rejected = (Path(t.path) for t in outputs)
    args = aggregate_args(raw, outputs)
    old, new = {"CA": 3, "NV": 1}, {"TX": 2, "WA": 5, "OR": 1}
    (raw / "export.csv").write_bytes(export(old))
    run_to_end("aggregate_by_state.py", args, pausing_fs)
    assert read_dataset(states) == old

    (raw / "export.csv").write_bytes(export(new))
    remove_flags(outputs)  # what AggregateUFOsByState does before launching the script
    run_and_kill_at("aggregate_by_state.py", args, point, states, pausing_fs, tmp_path)
    # The old complete partition, or no flag: never a flag over missing or partial data.
    assert read_dataset(states) in (old, None)
    assert not (states / "_SUCCESS").exists()

    run_to_end("aggregate_by_state.py", args, pausing_fs)
    assert read_dataset(states) == new
    assert_dataframe_writer(states)
    assert read_dataset(rejected) == {
        reason: 0
        for reason in (
            "repeated_header", "blank_state", "not_us_state", "foreign_country",
            "malformed_record", "blank_line", "undecodable_bytes",
        )
    }  # fmt: skip


@pytest.mark.parametrize("point", ["delete", "write"])
def test_top_10_killed_while_replacing_leaves_no_lying_flag(
    pausing_fs: Path, tmp_path: Path, point: str
) -> None:
    states, output = tmp_path / "by_state", DatedTarget(str(tmp_path / "top"), DATE)
    top = Path(output.path)
    states.mkdir()
    counts = Counter({"CA": 9, "TX": 4, "NY": 4, "WA": 1})
    (states / "part-00000.csv").write_text(
        "state,sightings\n" + "".join(f"{s},{n}\n" for s, n in counts.items()), encoding="utf-8"
    )
    (states / "_SUCCESS").write_text("", encoding="utf-8")
    args = ["--input", str(states), "--output", str(top), "--top", "3"]
    run_to_end("top_10.py", args, pausing_fs)
    assert (top / "_SUCCESS").exists()

    args[-1] = "2"
    remove_flags([output])  # what TopTenStates does before launching the script
    run_and_kill_at("top_10.py", args, point, top, pausing_fs, tmp_path)
    assert not (top / "_SUCCESS").exists()

    run_to_end("top_10.py", args, pausing_fs)
    assert_dataframe_writer(top)
    (part,) = top.glob("part-*")
    assert part.read_text(encoding="utf-8") == "rank,state,sightings\n1,CA,9\n2,NY,4\n"


def test_task_removes_its_output_flags_before_the_application_starts(
    tmp_path: Path, luigi_config: SetConfig, spark_local_master: str
) -> None:
    scripts = tmp_path / "scripts"
    shutil.copytree(SPARK_SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    luigi_config("spark_script", "scripts_dir", str(scripts))
    luigi_config("spark_script", "master", spark_local_master)
    luigi_config("spark_script", "conf", json.dumps({"spark.ui.enabled": "false"}))
    partition = tmp_path / "out" / DATE.isoformat()
    partition.mkdir(parents=True)
    (partition / "part-00000.csv").write_text("old\n", encoding="utf-8")
    (partition / "_SUCCESS").write_text("", encoding="utf-8")
    task: Any = Probe(root=str(tmp_path / "out"), script_args=["--mode", "fail"])
    with pytest.raises(SparkSubmitError, match="probe failed on purpose"):
        task.run()
    # The application died before writing: the old data stays, but no longer counts as done.
    assert not task.output().exists()
    assert (partition / "part-00000.csv").read_text(encoding="utf-8") == "old\n"


#: A user's own script, written the way docs/spark-task.md shows: no writer of its own.
PLAIN_SCRIPT = """
import argparse, sys
from pyspark.sql import SparkSession

def main(argv=None, spark=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", nargs="+", required=True)
    parser.add_argument("--output", nargs="+", required=True)
    args = parser.parse_args(argv)
    spark = spark or SparkSession.builder.getOrCreate()
    counts = spark.read.csv(args.input, header=True).groupBy("State").count()
    counts.coalesce(1).write.mode("overwrite").csv(args.output[0], header=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
"""


@pytest.mark.parametrize("point", ["delete", "write"])
def test_a_plain_dataframe_script_gets_a_flag_only_with_complete_data_from_the_task(
    pausing_fs: Path, tmp_path: Path, point: str
) -> None:
    """Item 6 of issue 23: the task's flag removal alone makes a plain overwrite crash safe."""
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_SCRIPT, encoding="utf-8")
    raw, target = tmp_path / "raw.csv", DatedTarget(str(tmp_path / "out"), DATE)
    out = Path(target.path)
    args = ["--input", str(raw), "--output", str(out)]
    old, new = {"CA": 3, "NV": 1}, {"TX": 2, "WA": 5, "OR": 1}
    raw.write_bytes(export(old))
    run_to_end(str(script), args, pausing_fs)
    assert read_dataset(out) == old

    raw.write_bytes(export(new))
    if point == "delete":
        # Without the task, Spark's overwrite deletes the parts before the flag: a lying flag.
        (tmp_path / "bare").mkdir()
        run_and_kill_at(str(script), args, point, out, pausing_fs, tmp_path / "bare")
        assert (out / "_SUCCESS").exists()
        assert not list(out.glob("part-*"))
        run_to_end(str(script), args, pausing_fs)
        raw.write_bytes(export(old))
    expected = new if point == "write" else old
    remove_flags([target])  # what ExternalSparkScriptTask.run does before launching
    run_and_kill_at(str(script), args, point, out, pausing_fs, tmp_path)
    assert not (out / "_SUCCESS").exists()
    run_to_end(str(script), args, pausing_fs)
    assert read_dataset(out) == expected
