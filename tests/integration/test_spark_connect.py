"""Connect mode against a real Spark Connect server (the ``spark_connect`` fixture, local[2])."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import luigi
import psutil
import pytest

from luigi_ufo.errors import BackfillError, ConnectUnsupportedError, SparkConnectError

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))  # probe_tasks must be importable by name (spawned workers too)

from probe_tasks import (  # noqa: E402
    FAST_CONF,
    ConnectProbe,
    DatedConnectProbe,
    DatedInputProbe,
    HelperProbe,
    Probe,
    TimedConnectProbe,
)

from luigi_ufo.spark import SparkBackfill  # noqa: E402
from tests.integration.test_spark_backfill import (  # noqa: E402
    put_raw,
    raw_lake_with_a_bad_date,
    state_counts,
)
from tests.integration.test_spark_task import _luigid_progress, build, part_text  # noqa: E402
from tests.integration.test_ufo_scripts import KAGGLE, PRIMARY, read_csv, real_file  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SetConfig = Callable[[str, str, str], None]
DAYS = [datetime.date(2024, 5, 1) + datetime.timedelta(days=i) for i in range(3)]


@pytest.fixture
def scripts(tmp_path: Path, luigi_config: SetConfig, spark_connect: Any) -> Path:
    """Copy the probe scripts to a fresh scripts dir and run tasks through the Connect server."""
    root = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, root, ignore=shutil.ignore_patterns("__pycache__"))
    luigi_config("spark_script", "scripts_dir", str(root))
    luigi_config("spark_script", "mode", "connect")
    luigi_config("spark_script", "connect_url", spark_connect.url)
    return root


def tagged_jobs(spark_connect: Any, tag: str) -> list[dict[str, Any]]:
    """The server's jobs that ran with Spark Connect tag ``tag``."""
    return [j for j in spark_connect.jobs() if any(t.endswith(f"_Tag_{tag}") for t in j["jobTags"])]


def wait_for_jobs(
    spark_connect: Any, tag: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> list[dict[str, Any]]:
    """Poll the server's REST API until ``done(jobs with tag)``; return them (a busy UI may lag)."""
    deadline = time.monotonic() + timeout
    jobs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            jobs = tagged_jobs(spark_connect, tag)
        except OSError:
            continue
        if done(jobs):
            break
        time.sleep(0.5)
    return jobs


def _settled(jobs: list[dict[str, Any]]) -> bool:
    return bool(jobs) and all(j["status"] != "RUNNING" for j in jobs)


def _stopped(jobs: list[dict[str, Any]]) -> bool:
    return _settled(jobs) and sum(j["numActiveTasks"] for j in jobs) == 0


def _running(jobs: list[dict[str, Any]]) -> bool:
    return any(j["status"] == "RUNNING" for j in jobs)


def test_progress_reaches_luigid_and_an_edit_applies_with_the_server_untouched(
    scripts: Path, tmp_path: Path, luigid: Any, spark_connect: Any
) -> None:
    pid = spark_connect.pid
    source = tmp_path / "in.txt"
    source.write_text("a\nb\nc\nd\n")
    # A 6-task stage of 1 s Python UDF tasks on local[2]: several progress reports (1 s apart).
    first = ConnectProbe(
        root=str(tmp_path / "first"),
        source=str(source),
        script_args=["--tasks", "6", "--sleep", "1", "--label", "a"],
    )
    with _luigid_progress(luigid, first.task_id) as (seen, messages):
        result = build(
            first, local_scheduler=False, scheduler_host=luigid.host, scheduler_port=luigid.port
        )
    assert result.status == luigi.LuigiStatusCode.SUCCESS
    out = tmp_path / "first" / "2026-11-24"
    assert (out / "_SUCCESS").exists()
    assert part_text(out).splitlines() == ["0,v1,4,a", "1,v1,4,a", "2,v1,4,a"]
    assert any(0 < p < 100 for p in seen), seen
    assert any("Spark Connect operation" in m and "tasks done" in m for m in messages), messages
    assert luigid.task_list("DONE")[first.task_id]["progress_percentage"] == 100

    script = scripts / "connect_probe.py"
    script.write_text(script.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    second = ConnectProbe(root=str(tmp_path / "second"), script_args=["--label", "b"])
    assert build(second).status == luigi.LuigiStatusCode.SUCCESS
    assert part_text(tmp_path / "second" / "2026-11-24").splitlines() == [
        "0,v2,0,b",
        "1,v2,0,b",
        "2,v2,0,b",
    ]
    assert spark_connect.pid == pid
    assert spark_connect.server.running()


def test_a_failing_script_shows_its_traceback(scripts: Path, tmp_path: Path) -> None:
    task = ConnectProbe(root=str(tmp_path / "out"), script_args=["--mode", "fail"])
    with pytest.raises(SparkConnectError) as info:
        task.run()
    message = str(info.value)
    assert "the script raised ValueError" in message
    assert "Python traceback of the script:" in message
    assert re.search(r'connect_probe\.py", line \d+, in main', message), message
    assert "ValueError: connect_probe failed on purpose (bad row 42)" in message
    assert not task.output().exists()


def test_what_the_script_prints_goes_to_the_log_not_to_the_worker_stdout(
    scripts: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The script runs inside the worker: its print() must not reach the worker's stdout (where
    # `luigi-ufo run --json` writes its one JSON document), but the log, as under spark-submit.
    task = ConnectProbe(root=str(tmp_path / "out"))
    with caplog.at_level("INFO", logger="luigi_ufo.spark"):
        task.run()
    assert task.output().exists()
    assert "connect_probe VERSION=" not in capfd.readouterr().out
    assert any(
        "connect_probe VERSION=" in r.getMessage() and r.name == "luigi_ufo.spark"
        for r in caplog.records
    )


@pytest.fixture
def decoy(spark_connect: Any) -> Iterator[Path]:
    """A one-line ``data/clicks-<uuid>.txt`` in the server's working directory; its name."""
    server_dir = Path(psutil.Process(spark_connect.pid).cwd())
    name = Path("data") / f"clicks-{uuid.uuid4().hex}.txt"
    (server_dir / name).parent.mkdir(exist_ok=True)
    (server_dir / name).write_text("ZZ decoy\n")
    try:
        yield name
    finally:
        (server_dir / name).unlink()
        with contextlib.suppress(OSError):
            (server_dir / name).parent.rmdir()


def the_worker_s_file(tmp_path: Path, name: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write the worker's 4-line ``name`` under a directory of its own, and work from there."""
    worker = tmp_path / "worker"
    (worker / name).parent.mkdir(parents=True)
    (worker / name).write_text("US 580\nDE 304\nFR 211\nIT 97\n")
    monkeypatch.chdir(worker)


def test_a_relative_input_is_the_worker_s_file_not_the_server_s(
    scripts: Path, tmp_path: Path, decoy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: a relative LocalTarget (the docs' own example) was read from the server's dir."""
    the_worker_s_file(tmp_path, decoy, monkeypatch)
    task = ConnectProbe(root=str(tmp_path / "out"), source=str(decoy))
    assert task.input_uris() == [str(decoy)]  # relative, as the user wrote it
    assert build(task).status == luigi.LuigiStatusCode.SUCCESS
    # The rows count the input's lines: the worker's 4, not the decoy's 1.
    assert part_text(tmp_path / "out" / "2026-11-24") == "".join(f'{i},v1,4,""\n' for i in range(3))


def test_a_backfill_reads_relative_inputs_from_the_worker_s_directory(
    scripts: Path, tmp_path: Path, decoy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    the_worker_s_file(tmp_path, decoy, monkeypatch)
    backfill = SparkBackfill(
        of=DatedInputProbe,
        start=DAYS[0],
        stop=DAYS[1] + datetime.timedelta(days=1),
        of_params={"root": str(tmp_path / "lake"), "source": str(decoy)},
    )
    backfill.run()
    assert backfill.complete()
    for day in DAYS[:2]:
        lines = part_text(tmp_path / "lake" / day.isoformat()).splitlines()
        assert lines == [f"{i},v1,4,{day.isoformat()}" for i in range(3)]


def test_an_rdd_script_fails_at_once_naming_the_call(
    scripts: Path, tmp_path: Path, spark_connect: Any
) -> None:
    before = len(spark_connect.jobs())
    task = Probe(root=str(tmp_path / "out"))
    with pytest.raises(ConnectUnsupportedError) as info:
        task.run()
    message = str(info.value)
    assert "`spark.sparkContext` (SparkContext)" in message
    assert "mode = submit" in message
    assert len(spark_connect.jobs()) == before  # nothing ran on the server
    assert not (tmp_path / "out").exists()


def test_a_timeout_interrupts_the_operation_on_the_server(
    scripts: Path, tmp_path: Path, spark_connect: Any
) -> None:
    # Long enough for the job to have started on a loaded machine (the script's process is
    # killed at the timeout: an operation not yet started never starts).
    task = TimedConnectProbe(
        root=str(tmp_path / "out"),
        timeout=15.0,
        script_args=["--mode", "slow", "--tasks", "2", "--sleep", "300"],
    )
    started = time.monotonic()
    with pytest.raises(SparkConnectError) as info:
        task.run()
    assert time.monotonic() - started < 60
    message = str(info.value)
    assert "timed out after 15 s" in message, message
    found = re.search(
        r"session \(tag '(luigi-ufo-[0-9a-f-]+)'\) on the server: interrupted 1 operation", message
    )
    assert found, message
    # Server side: the UDF job was cancelled and its sleeping tasks killed, long before 300 s.
    jobs = wait_for_jobs(spark_connect, found.group(1), _stopped, timeout=150)
    states = [(j["status"], j["numKilledTasks"], j["numActiveTasks"]) for j in jobs]
    assert _stopped(jobs), states
    assert any(j["status"] == "FAILED" for j in jobs), states
    assert time.monotonic() - started < 200
    assert not task.output().exists()


def test_two_workers_on_one_server_load_their_own_dates(scripts: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    tasks = [DatedConnectProbe(date=d, root=root) for d in DAYS[:2]]
    result = luigi.build(
        tasks, local_scheduler=True, workers=2, detailed_summary=True, log_level="WARNING"
    )
    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    for day in DAYS[:2]:
        lines = part_text(tmp_path / "lake" / day.isoformat()).splitlines()
        assert lines == [f"{i},v1,0,{day.isoformat()}" for i in range(3)]


def test_backfill_runs_all_dates_through_the_server_and_a_rerun_does_the_rest(
    scripts: Path, tmp_path: Path
) -> None:
    root = str(tmp_path / "lake")
    failing = SparkBackfill(
        of=DatedConnectProbe,
        start=DAYS[0],
        stop=DAYS[-1] + datetime.timedelta(days=1),
        of_params={"root": root, "fail_label": DAYS[1].isoformat()},
    )
    with pytest.raises(BackfillError) as info:
        failing.run()
    message = str(info.value)
    assert (
        f"1 of 3 date(s) of DatedConnectProbe are still incomplete after the backfill: {DAYS[1]}"
        in message
    )
    assert f"{DAYS[1]} failed: ValueError: connect_probe failed on purpose" in message
    flags = {d: tmp_path / "lake" / d.isoformat() / "_SUCCESS" for d in DAYS}
    assert flags[DAYS[0]].exists()
    assert flags[DAYS[2]].exists()
    assert not flags[DAYS[1]].exists()
    kept = {d: flags[d].stat().st_mtime_ns for d in (DAYS[0], DAYS[2])}

    rerun = SparkBackfill(
        of=DatedConnectProbe,
        start=DAYS[0],
        stop=DAYS[-1] + datetime.timedelta(days=1),
        of_params={"root": root},
    )
    assert rerun.missing_dates() == [DAYS[1]]
    rerun.run()
    assert rerun.complete()
    assert {d: flags[d].stat().st_mtime_ns for d in kept} == kept  # only the remainder ran
    lines = part_text(tmp_path / "lake" / DAYS[1].isoformat()).splitlines()
    assert lines == [f"{i},v1,0,{DAYS[1].isoformat()}" for i in range(3)]


def new_jobs(spark_connect: Any, before: int, expected: int) -> int:
    """The number of server jobs since ``before`` once ``expected`` are seen (the UI may lag)."""
    deadline = time.monotonic() + 30
    while len(spark_connect.jobs()) - before < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # anything more would show by now
    return len(spark_connect.jobs()) - before


def reasons_of(lake: Path, day: datetime.date) -> dict[str, int]:
    rows = read_csv(lake / "ufo" / "rejected" / day.isoformat())[1:]
    return {reason: int(n) for reason, n in rows if int(n)}


def test_a_ufo_backfill_is_one_job_on_the_server_and_a_rerun_does_the_rest(
    tmp_path: Path, luigi_config: SetConfig, spark_connect: Any
) -> None:
    """main_batch: every date in one job, exact counts, a bad date named alone, then rerun."""
    from luigi_ufo.ufo.tasks import AggregateUFOsByState

    lake = tmp_path / "lake"
    luigi_config("lake", "root", str(lake))
    luigi_config("spark_script", "mode", "connect")
    luigi_config("spark_script", "connect_url", spark_connect.url)
    days = [datetime.date(2024, 6, 1) + datetime.timedelta(days=i) for i in range(12)]
    samples = raw_lake_with_a_bad_date(lake, tmp_path, days, 300, days[2])
    task = SparkBackfill(
        of=AggregateUFOsByState, start=days[0], stop=days[-1] + datetime.timedelta(days=1)
    )
    before = len(spark_connect.jobs())

    with pytest.raises(BackfillError) as info:
        task.run()
    assert new_jobs(spark_connect, before, 1) == 1
    message = str(info.value)
    assert message.startswith("1 of 12 date(s) of AggregateUFOsByState are still incomplete")
    assert f"{days[2]} failed: aggregate_by_state: error: {lake}/ufo/raw/{days[2]}" in message
    assert "is not a NUFORC export" in message
    for day in [d for d in days if d != days[2]]:
        assert state_counts(lake, day) == dict(samples[day].states)
        assert reasons_of(lake, day) == {k: n for k, n in samples[day].rejected.items() if n}
    assert task.missing_dates() == [days[2]]
    good = days[:2] + days[3:]
    kept = {d: (lake / "ufo" / "by_state" / str(d) / "_SUCCESS").stat().st_mtime_ns for d in good}

    put_raw(lake, days[2], samples[days[2]].path)
    task.run()
    assert task.complete()
    assert state_counts(lake, days[2]) == dict(samples[days[2]].states)
    flags = {d: (lake / "ufo" / "by_state" / str(d) / "_SUCCESS").stat().st_mtime_ns for d in kept}
    assert flags == kept  # only the remainder ran


def _flagged(lake: Path, days: list[datetime.date]) -> list[datetime.date]:
    return [d for d in days if (lake / "ufo" / "by_state" / str(d) / "_SUCCESS").exists()]


def test_a_backfill_stopped_mid_way_keeps_only_complete_dates_and_a_rerun_does_the_rest(
    tmp_path: Path, luigi_config: SetConfig, spark_connect: Any
) -> None:
    """SIGTERM to the Luigi process mid-job: the operation is interrupted on the server (its
    Python workers killed mid-date); every flagged date is complete and exact, and a rerun
    does exactly the dates without a flag."""
    from luigi_ufo.ufo.sample import write_sample
    from luigi_ufo.ufo.tasks import AggregateUFOsByState

    lake = tmp_path / "lake"
    days = [datetime.date(2023, 1, 1) + datetime.timedelta(days=i) for i in range(120)]
    sample = write_sample(tmp_path / "export.csv", 40_000, seed=9)
    for day in days:  # one file, hard-linked into every raw partition (flag last)
        partition = lake / "ufo" / "raw" / str(day)
        partition.mkdir(parents=True)
        os.link(sample.path, partition / "export.csv")
        (partition / "_SUCCESS").touch()
    config = tmp_path / "luigi.cfg"
    config.write_text(
        f"[lake]\nroot = {lake}\n[spark_script]\nmode = connect\n"
        f"connect_url = {spark_connect.url}\n",
        encoding="utf-8",
    )
    argv = [sys.executable, "-m", "luigi", "--module", "luigi_ufo.ufo", "SparkBackfill"]
    argv += ["--of", "AggregateUFOsByState", "--start", str(days[0]), "--stop", "2023-05-01"]
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config)}
    client = subprocess.Popen(
        [*argv, "--local-scheduler"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not _flagged(lake, days) and client.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        client.send_signal(signal.SIGTERM)
        _, err = client.communicate(timeout=60)
    finally:
        client.kill()
    assert "failed: terminated by SIGTERM" in err, err[-3000:]
    jobs = wait_for_jobs_all(spark_connect, timeout=60)
    assert _stopped(jobs)
    assert jobs[0]["status"] == "FAILED"  # the backfill's one job, cancelled on the server
    time.sleep(3)  # a killed task's Python worker goes within spark.python.task.killTimeout (2 s)
    done = _flagged(lake, days)
    assert 0 < len(done) < len(days), f"{len(done)} of {len(days)} dates done: not stopped mid-way"
    expected = {k: n for k, n in sample.rejected.items() if n}
    for day in done:
        assert state_counts(lake, day) == dict(sample.states)
        assert reasons_of(lake, day) == expected
    kept = {d: (lake / "ufo" / "by_state" / str(d) / "_SUCCESS").stat().st_mtime_ns for d in done}

    luigi_config("lake", "root", str(lake))
    luigi_config("spark_script", "mode", "connect")
    luigi_config("spark_script", "connect_url", spark_connect.url)
    rerun = SparkBackfill(of=AggregateUFOsByState, start=days[0], stop=datetime.date(2023, 5, 1))
    assert rerun.missing_dates() == [d for d in days if d not in done]
    rerun.run()
    assert rerun.complete()
    for day in days:
        assert state_counts(lake, day) == dict(sample.states)
    flags = {d: (lake / "ufo" / "by_state" / str(d) / "_SUCCESS").stat().st_mtime_ns for d in done}
    assert flags == kept


def wait_for_jobs_all(spark_connect: Any, timeout: float) -> list[dict[str, Any]]:
    """Poll until no job of the server runs; return its jobs."""
    deadline = time.monotonic() + timeout
    jobs = spark_connect.jobs()
    while not _stopped(jobs) and time.monotonic() < deadline:
        time.sleep(0.5)
        jobs = spark_connect.jobs()
    return jobs


def test_the_dataframe_path_under_connect_gives_the_reference_answer(
    tmp_path: Path, spark_connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packaged scripts' DataFrame path (the one s3a:// takes) on the primary file."""
    from luigi_ufo.spark.connect.runner import ConnectRunner, ConnectSpec
    from luigi_ufo.spark.scripts import Script
    from tests.reference_scripts import aggregate_by_state, local_lake, top_10

    primary = real_file(PRIMARY)
    # Not a local lake, as far as the scripts can tell: they take their DataFrame path.
    monkeypatch.setattr(local_lake, "absolute_local", lambda uris: False)
    out, rejected, ranked = (str(tmp_path / name) for name in ("s", "r", "t"))
    spec = ConnectSpec(
        url=spark_connect.url,
        script=Script(path=Path(aggregate_by_state.__file__), sha256=""),
        name="dataframe-path",
    )

    def body(spark: Any) -> tuple[int, int]:
        argv = ["--input", str(primary), "--output", out, "--rejected-output", rejected]
        first = aggregate_by_state.main(argv, spark=spark)
        return first, top_10.main(["--input", out, "--output", ranked, "--top", "3"], spark=spark)

    assert ConnectRunner(spec).run(body) == (0, 0)
    (part,) = Path(out).glob("part-*.csv")
    assert part.name != "part-00000.csv"  # Spark's writer wrote it
    states = {s: int(n) for s, n in read_csv(Path(out))[1:]}
    reasons = {r: int(n) for r, n in read_csv(Path(rejected))[1:]}
    assert sum(states.values()) == 105_193
    assert sum(states.values()) + sum(reasons.values()) == 119_727
    assert (reasons["repeated_header"], reasons["blank_state"]) == (930, 8_638)
    top = [(s, int(c)) for _, s, c in read_csv(Path(ranked))[1:]]
    assert top == [("CA", 13_513), ("FL", 6_498), ("WA", 5_884)]


@pytest.fixture
def either_mode(luigi_config: SetConfig, spark_connect: Any, spark_local_master: str) -> None:
    """The probes' settings for a run in either mode: ``[spark_script] mode`` picks it."""
    luigi_config("spark_script", "scripts_dir", str(SCRIPTS))
    luigi_config("spark_script", "master", spark_local_master)
    luigi_config("spark_script", "conf", json.dumps(FAST_CONF))
    luigi_config("spark_script", "connect_url", spark_connect.url)


def test_connect_gives_the_submit_answer(
    tmp_path: Path, luigi_config: SetConfig, either_mode: None
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("".join(f"line {i}\n" for i in range(17)))
    answers = {}
    # Connect first: a spark-submit after a Connect run in one process must still run classic.
    for mode in ("connect", "submit"):
        luigi_config("spark_script", "mode", mode)
        task = ConnectProbe(root=str(tmp_path / mode), source=str(source))
        assert build(task).status == luigi.LuigiStatusCode.SUCCESS
        answers[mode] = part_text(tmp_path / mode / "2026-11-24")
    assert answers["connect"] == answers["submit"] == "".join(f'{i},v1,17,""\n' for i in range(3))


def test_script_files_reach_the_python_workers_in_both_modes(
    tmp_path: Path, luigi_config: SetConfig, either_mode: None
) -> None:
    """A UDF calling a ``script_files`` module: on PYTHONPATH in submit mode (a local master),
    by value in Connect."""
    source = tmp_path / "in.txt"
    source.write_text("b\na\n")
    for mode in ("connect", "submit"):
        luigi_config("spark_script", "mode", mode)
        task = HelperProbe(root=str(tmp_path / mode), source=str(source))
        assert build(task).status == luigi.LuigiStatusCode.SUCCESS, mode
        assert part_text(tmp_path / mode / "2026-11-24") == "A!\nB!\n", mode


def test_the_reference_pipeline_in_connect_mode_gives_the_reference_answer(
    tmp_path: Path, luigi_config: SetConfig, spark_connect: Any
) -> None:
    """The packaged scripts (DataFrame-only) on the real primary file, through the server."""
    from luigi_ufo.ufo.tasks import ImportUFOExport, TopTenStates

    primary = real_file(PRIMARY)
    lake = tmp_path / "lake"
    luigi_config("lake", "root", str(lake))
    luigi_config("ufo", "top", "11")
    luigi_config("spark_script", "mode", "connect")
    luigi_config("spark_script", "connect_url", spark_connect.url)
    date = datetime.date(2024, 1, 15)
    assert build(ImportUFOExport(date=date, source=str(primary))).status == (
        luigi.LuigiStatusCode.SUCCESS
    )
    pid, jobs = spark_connect.pid, len(spark_connect.jobs())
    assert build(TopTenStates(date=date)).status == luigi.LuigiStatusCode.SUCCESS
    assert spark_connect.pid == pid
    # The server ran them, not a spark-submit: one job per script on a local lake.
    assert new_jobs(spark_connect, jobs, 2) == 2
    states = {s: int(n) for s, n in read_csv(lake / "ufo" / "by_state" / str(date))[1:]}
    reasons = {r: int(n) for r, n in read_csv(lake / "ufo" / "rejected" / str(date))[1:]}
    # The reference answer of /work/shared/data/ufo/README.md (rule R1), as in submit mode.
    assert sum(states.values()) == 105_193
    assert len(states) == 51
    assert sum(states.values()) + sum(reasons.values()) == 119_727
    assert reasons["repeated_header"] == 930
    assert reasons["blank_state"] == 8_638
    top = [(s, int(c)) for _, s, c in read_csv(lake / "ufo" / "top_states" / str(date))[1:]]
    assert top == [
        ("CA", 13_513), ("FL", 6_498), ("WA", 5_884), ("TX", 4_945), ("NY", 4_679),
        ("AZ", 4_009), ("PA", 3_873), ("IL", 3_601), ("OH", 3_553), ("MI", 2_990),
        ("NC", 2_942),
    ]  # fmt: skip


def test_the_kaggle_file_in_connect_mode_gives_the_submit_answer(
    tmp_path: Path, luigi_config: SetConfig, spark_connect: Any
) -> None:
    """The Kaggle ``scrubbed.csv`` layout (country rule us-or-blank) through the server."""
    from luigi_ufo.ufo.tasks import ImportUFOExport, TopTenStates

    kaggle = real_file(KAGGLE)
    lake = tmp_path / "lake"
    luigi_config("lake", "root", str(lake))
    luigi_config("spark_script", "mode", "connect")
    luigi_config("spark_script", "connect_url", spark_connect.url)
    date = datetime.date(2024, 1, 16)
    assert build(ImportUFOExport(date=date, source=str(kaggle))).status == (
        luigi.LuigiStatusCode.SUCCESS
    )
    jobs = len(spark_connect.jobs())
    assert build(TopTenStates(date=date)).status == luigi.LuigiStatusCode.SUCCESS
    assert len(spark_connect.jobs()) > jobs
    states = {s: int(n) for s, n in read_csv(lake / "ufo" / "by_state" / str(date))[1:]}
    reasons = {r: int(n) for r, n in read_csv(lake / "ufo" / "rejected" / str(date))[1:]}
    # The same numbers as the submit-mode test of test_ufo_scripts.py (rule B).
    assert sum(states.values()) == 70_894
    assert sum(states.values()) + sum(reasons.values()) == 80_332
    top = [(s, int(c)) for _, s, c in read_csv(lake / "ufo" / "top_states" / str(date))[1:]]
    assert top == [
        ("CA", 9_655), ("WA", 4_266), ("FL", 4_200), ("TX", 3_677), ("NY", 3_219),
        ("AZ", 2_689), ("IL", 2_645), ("PA", 2_582), ("OH", 2_424), ("MI", 2_071),
    ]  # fmt: skip


ABANDONING_CLIENT = textwrap.dedent(
    """
    import sys, time
    from pyspark.sql import SparkSession, functions as F
    spark = SparkSession.builder.remote(sys.argv[1]).create()
    spark.addTag(sys.argv[2])
    def nap(x):
        time.sleep(600)
        return x
    spark.range(0, 2, 1, 2).select(F.udf(nap, "long")("id")).collect()  # one job, no shuffle
    """
)


def test_an_operation_whose_client_died_is_interrupted_on_the_server(
    tmp_path: Path, spark_connect: Any
) -> None:
    """A killed Luigi worker cannot interrupt its operation: the server's detach timeout does."""
    tag = f"luigi-ufo-abandoned-{os.getpid()}"
    script = tmp_path / "client.py"
    script.write_text(ABANDONING_CLIENT)
    client = subprocess.Popen([sys.executable, str(script), spark_connect.url, tag])
    try:
        assert _running(wait_for_jobs(spark_connect, tag, _running, timeout=120))
        assert client.poll() is None
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait()
    killed = time.monotonic()
    # Stream ends within 15 s, detachedTimeout 30 s, maintenance every 5 s: ~50 s; with slack
    # for a loaded machine, but well under Spark's defaults (2 min + 5 min).
    jobs = wait_for_jobs(spark_connect, tag, _settled, timeout=150)
    assert _settled(jobs), "the abandoned operation kept running"
    assert [j["status"] for j in jobs] == ["FAILED"]
    print(f"abandoned operation stopped {time.monotonic() - killed:.0f} s after its client died")


@pytest.mark.s3a
def test_the_s3_lake_through_s3a_behind_the_connect_server(
    s3_endpoint: str,
    s3_bucket: str,
    s3a_jars: list[str],
    luigi_config: SetConfig,
    aws_credentials: dict[str, str],
    spark_connect: Any,
) -> None:
    """The server gets [s3_endpoint]'s s3a settings and the jars at start; tasks write s3:// dates.

    A server of its own (started after the S3 settings); ``spark_connect`` skips where connect
    mode cannot run.
    """
    import boto3

    from luigi_ufo.testing.connect import start_spark_connect

    luigi_config("s3_endpoint", "endpoint_url", s3_endpoint)
    luigi_config("s3_endpoint", "path_style", "true")
    server = start_spark_connect(jars=s3a_jars, s3=True)
    try:
        luigi_config("spark_script", "scripts_dir", str(SCRIPTS))
        luigi_config("spark_script", "mode", "connect")
        luigi_config("spark_script", "connect_url", server.url)
        root = f"s3://{s3_bucket}/lake/probe"
        tasks = [DatedConnectProbe(date=d, root=root) for d in DAYS[:2]]
        assert luigi.build(tasks, local_scheduler=True, workers=2, log_level="WARNING")
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
        for day in DAYS[:2]:
            assert DatedConnectProbe(date=day, root=root).complete()
            listing = s3.list_objects_v2(Bucket=s3_bucket, Prefix=f"lake/probe/{day}/part-")
            key = listing["Contents"][0]["Key"]
            text = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read().decode()
            assert text.splitlines() == [f"{i},v1,0,{day}" for i in range(3)]
        # The credentials reached the server through its environment, never its command line.
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert aws_credentials["AWS_SECRET_ACCESS_KEY"].encode() not in cmdline
        assert b"fs.s3a.endpoint=" + s3_endpoint.encode() in cmdline
    finally:
        server.stop()


START_METHOD_DRIVER = """
import multiprocessing, os, sys
import luigi

if __name__ == "__main__":
    multiprocessing.set_start_method(sys.argv[1])
    from probe_tasks import ConnectPidProbe

    result = luigi.build([ConnectPidProbe(root=sys.argv[2])], workers=2, local_scheduler=True)
    print("CALLER", os.getpid())
    sys.exit(0 if result else 1)
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_connect_mode_under_spawn_and_forkserver_workers(
    method: str, tmp_path: Path, spark_connect: Any
) -> None:
    """The task process luigi starts (a fresh interpreter) forks the script's process itself."""
    config = tmp_path / "luigi.cfg"
    config.write_text(
        f"[spark_script]\nscripts_dir = {SCRIPTS}\nmode = connect\n"
        f"connect_url = {spark_connect.url}\n"
    )
    driver = tmp_path / "driver.py"
    driver.write_text(START_METHOD_DRIVER)
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config), "PYTHONPATH": str(SCRIPTS)}
    done = subprocess.run(
        [sys.executable, str(driver), method, str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert part_text(tmp_path / "out" / "2026-11-24") == "".join(f'{i},v1,0,""\n' for i in range(3))
    caller = re.search(r"CALLER (\d+)", done.stdout)
    assert caller is not None
    assert (tmp_path / "out" / "task.pid").read_text() != caller.group(1)
