"""SparkBackfill's date logic and submit wiring, and the batch driver's run loop (no Spark here)."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import luigi
import pytest

from luigi_ufo.dated import DatedTarget, DatedTaskMixin
from luigi_ufo.errors import BackfillError, ConfigError, SparkSubmitError
from luigi_ufo.spark import ExternalSparkScriptTask, SparkBackfill, driver
from luigi_ufo.spark.run import RunResult
from luigi_ufo.spark.submit.runner import BATCH_DRIVER, SparkSubmitRunner

DONE = RunResult(returncode=0, command="spark-submit ...", duration_s=1.0)

DAYS = [datetime.date(2024, 3, 1) + datetime.timedelta(days=i) for i in range(4)]


class Raw(luigi.ExternalTask):
    day = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self) -> DatedTarget:
        return DatedTarget(f"{self.root}/raw", self.day)


class Daily(DatedTaskMixin, ExternalSparkScriptTask):
    day = luigi.DateParameter()
    root = luigi.Parameter()
    date_param_name = "day"
    script = "daily.py"
    spark_overrides = {"conf": {"spark.sql.shuffle.partitions": "1"}}  # noqa: RUF012

    def requires(self) -> Raw:
        return Raw(day=self.day, root=self.root)

    def output(self) -> DatedTarget:
        return DatedTarget(f"{self.root}/out", self.day)


class NoDate(ExternalSparkScriptTask):
    script = "daily.py"


class NotSpark(luigi.Task):
    date = luigi.DateParameter()


def flag(root: Path, dataset: str, day: datetime.date) -> None:
    partition = root / dataset / day.isoformat()
    partition.mkdir(parents=True, exist_ok=True)
    (partition / "_SUCCESS").touch()


def backfill_of(root: Path, days: int = 4) -> SparkBackfill:
    return SparkBackfill(
        of=Daily,
        start=DAYS[0],
        stop=DAYS[0] + datetime.timedelta(days=days),
        of_params={"root": str(root)},
    )


@pytest.fixture
def scripts_dir(tmp_path: Path, luigi_config: Any) -> Path:
    root = tmp_path / "scripts"
    root.mkdir()
    (root / "daily.py").write_text("def main(argv=None, spark=None):\n    return 0\n")
    luigi_config("spark_script", "scripts_dir", str(root))
    luigi_config("spark_script", "master", "local[1]")
    return root


def test_only_incomplete_dates_are_missing_and_required(tmp_path: Path) -> None:
    flag(tmp_path, "out", DAYS[0])
    flag(tmp_path, "out", DAYS[2])
    (tmp_path / "out" / DAYS[1].isoformat()).mkdir()  # parts without a flag: not complete
    task = backfill_of(tmp_path)
    assert task.dates() == DAYS
    assert task.missing_dates() == [DAYS[1], DAYS[3]]
    assert task.requires() == [Raw(day=d, root=str(tmp_path)) for d in (DAYS[1], DAYS[3])]
    assert not task.complete()
    for day in DAYS:
        flag(tmp_path, "out", day)
    assert task.complete()
    assert task.requires() == []


def test_an_empty_range_is_complete(tmp_path: Path) -> None:
    assert backfill_of(tmp_path, days=0).complete()


def test_of_must_be_a_spark_script_task_with_the_date_parameter() -> None:
    with pytest.raises(ConfigError, match="not an ExternalSparkScriptTask"):
        SparkBackfill(of=NotSpark, start=DAYS[0], stop=DAYS[1])
    with pytest.raises(ConfigError, match=r"no date parameter 'date'.*date_param_name"):
        SparkBackfill(of=NoDate, start=DAYS[0], stop=DAYS[1])


def test_one_submission_carries_each_dates_own_arguments(
    tmp_path: Path, scripts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag(tmp_path, "out", DAYS[1])
    seen: dict[str, Any] = {}

    def fake_submit(runner: SparkSubmitRunner, spec: Any) -> RunResult:
        args = dict(zip(spec.app_args[::2], spec.app_args[1::2], strict=True))
        manifest = Path(args["--manifest"])
        seen.update(
            spec=spec, args=args, mode=manifest.stat().st_mode & 0o777, leases=runner.leases
        )
        seen["runs"] = json.loads(manifest.read_text())["runs"]
        for day in (DAYS[0], DAYS[2], DAYS[3]):
            flag(tmp_path, "out", day)
        return DONE

    monkeypatch.setattr(SparkSubmitRunner, "submit", fake_submit)
    task = backfill_of(tmp_path)
    task.run()
    spec = seen["spec"]
    assert spec.app == str(BATCH_DRIVER)
    assert seen["args"]["--script"] == str(scripts_dir / "daily.py")
    assert seen["mode"] == 0o600
    assert spec.conf["spark.sql.shuffle.partitions"] == "1"  # the task's own settings
    assert [r["label"] for r in seen["runs"]] == ["2024-03-01", "2024-03-03", "2024-03-04"]
    expected = Daily(day=DAYS[2], root=str(tmp_path)).app_options()
    assert seen["runs"][1]["argv"] == expected
    # Each missing date's output partition is leased for the application's whole life.
    assert seen["leases"] == tuple(
        u
        for d in (DAYS[0], DAYS[2], DAYS[3])
        for u in Daily(day=d, root=str(tmp_path)).output_uris()
    )
    assert not Path(seen["args"]["--manifest"]).exists()  # removed after the run
    assert task.complete()


def test_cluster_mode_ships_the_script_and_manifest(
    tmp_path: Path, scripts_dir: Path, luigi_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    luigi_config("spark_script", "master", "yarn")
    luigi_config("spark_script", "deploy_mode", "cluster")
    seen: dict[str, Any] = {}

    def fake_submit(runner: SparkSubmitRunner, spec: Any) -> RunResult:
        seen["spec"] = spec
        for day in DAYS:
            flag(tmp_path, "out", day)
        return DONE

    monkeypatch.setattr(SparkSubmitRunner, "submit", fake_submit)
    backfill_of(tmp_path).run()
    spec = seen["spec"]
    assert [Path(f).name for f in spec.files] == ["daily.py", "daily-manifest.json"]
    assert spec.app_args == ("--script", "daily.py", "--manifest", "daily-manifest.json")


def test_a_failed_application_names_the_incomplete_dates_and_keeps_the_rest(
    tmp_path: Path, scripts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_submit(runner: SparkSubmitRunner, spec: Any) -> RunResult:
        flag(tmp_path, "out", DAYS[0])
        flag(tmp_path, "out", DAYS[3])
        raise SparkSubmitError("Spark application failed: spark-submit exited with code 1")

    monkeypatch.setattr(SparkSubmitRunner, "submit", fake_submit)
    task = backfill_of(tmp_path)
    with pytest.raises(BackfillError) as info:
        task.run()
    message = str(info.value)
    assert message.startswith("2 of 4 date(s) of Daily are still incomplete")
    assert "2024-03-02, 2024-03-03; the other 2 completed" in message
    assert "rerun SparkBackfill(of=Daily" in message
    assert "exited with code 1" in message
    assert task.missing_dates() == [DAYS[1], DAYS[2]]


def test_run_all_runs_every_entry_and_collects_the_reasons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls: list[tuple[list[str], Any]] = []

    def main(argv: list[str], spark: Any = None) -> int:
        calls.append((argv, spark))
        if argv == ["bad-code"]:
            print("script: error: no such file 'x'", file=sys.stderr)
            return 2
        if argv == ["raises"]:
            raise ValueError("boom in the script")
        if argv == ["argparse"]:
            raise SystemExit(2)
        return 0

    runs = [{"label": name, "argv": [name]} for name in ("ok", "bad-code", "raises", "argparse")]
    failed = driver.run_all(main, runs, "SESSION", lambda: True)
    assert [c[0] for c in calls] == [["ok"], ["bad-code"], ["raises"], ["argparse"]]
    assert all(c[1] == "SESSION" for c in calls)
    assert failed == {
        "bad-code": "script: error: no such file 'x'",
        "raises": "ValueError: boom in the script",
        "argparse": "exit 2",
    }
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "luigi-ufo batch: 1/4 ok ok" in err
    assert "luigi-ufo batch: 2/4 bad-code FAILED (exit 2)" in err


def test_run_all_gives_main_batch_every_run_then_main_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    batched: list[Any] = []
    mains: list[list[str]] = []

    def main_batch(runs: list[tuple[str, list[str]]], spark: Any) -> dict[str, Any]:
        batched.append((runs, spark))
        return {"a": 0, "b": "script: error: bad b\n", "c": 3}

    def main(argv: list[str], spark: Any = None) -> int:
        mains.append(argv)
        return 0

    runs = [{"label": name, "argv": [f"--{name}"]} for name in ("a", "b", "c", "d")]
    failed = driver.run_all(main, runs, "SESSION", lambda: True, main_batch)
    assert batched == [
        ([("a", ["--a"]), ("b", ["--b"]), ("c", ["--c"]), ("d", ["--d"])], "SESSION")
    ]
    assert mains == [["--d"]]  # only the run main_batch left out
    assert failed == {"b": "script: error: bad b", "c": "exit 3"}
    err = capsys.readouterr().err
    assert "luigi-ufo batch: 1/4 a ok (main_batch)" in err
    assert "luigi-ufo batch: 2/4 b FAILED (main_batch)" in err
    assert "luigi-ufo batch: 4/4 d ok" in err


@pytest.mark.parametrize(
    ("returned", "error"),
    [([("a", 0)], "returned list, not a mapping"), ({"zz": 0}, "labels it was not given")],
)
def test_run_all_refuses_what_main_batch_cannot_have_meant(returned: Any, error: str) -> None:
    runs = [{"label": "a", "argv": []}]
    with pytest.raises((TypeError, ValueError), match=error):
        driver.run_all(lambda argv, spark: 0, runs, None, lambda: True, lambda r, s: returned)


def test_run_all_stops_calling_once_the_session_is_dead() -> None:
    state = {"alive": True}

    def main(argv: list[str], spark: Any = None) -> int:
        state["alive"] = False
        return 0

    runs = [{"label": f"d{i}", "argv": []} for i in range(3)]
    failed = driver.run_all(main, runs, None, lambda: state["alive"])
    assert list(failed) == ["d1", "d2"]
    assert "Spark session had stopped" in failed["d1"]


def test_loaded_script_needs_a_main(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text("def main(argv=None, spark=None):\n    return 7\n")
    with driver.loaded_script(good) as module:
        assert module.main([]) == 7
    bad = tmp_path / "nomain.py"
    bad.write_text("x = 1\n")
    with (
        pytest.raises(ImportError, match=r"has no main\(argv, spark\) function"),
        driver.loaded_script(bad),
    ):
        pass


def test_loaded_script_executes_the_file_anew_each_time(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("VALUE = 1\ndef main(argv, spark=None):\n    return VALUE\n")
    with driver.loaded_script(script) as first:
        assert first.main([]) == 1
    script.write_text("VALUE = 2\ndef main(argv, spark=None):\n    return VALUE\n")
    with driver.loaded_script(script) as second:
        assert second.main([]) == 2
    assert first.__name__ not in sys.modules
    assert second.__name__ not in sys.modules


def test_find_file_falls_back_to_the_shipped_basename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert driver.find_file("/elsewhere/m.json") == "m.json"
    with pytest.raises(FileNotFoundError, match="not found"):
        driver.find_file("/elsewhere/none.json")


def test_the_timeout_is_per_date(
    tmp_path: Path, scripts_dir: Path, luigi_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    luigi_config("spark_script", "timeout", "90")
    seen: dict[str, Any] = {}

    def fake_submit(runner: SparkSubmitRunner, spec: Any) -> RunResult:
        seen["timeout"] = runner.timeout
        for day in DAYS:
            flag(tmp_path, "out", day)
        return DONE

    monkeypatch.setattr(SparkSubmitRunner, "submit", fake_submit)
    flag(tmp_path, "out", DAYS[0])
    backfill_of(tmp_path).run()
    assert seen["timeout"] == 270  # three missing dates


def test_a_script_that_exits_0_without_writing_is_named(
    tmp_path: Path, scripts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SparkSubmitRunner, "submit", lambda runner, spec: DONE)
    with pytest.raises(BackfillError, match=r"(?s)4 of 4 date.*returned 0 for these dates"):
        backfill_of(tmp_path).run()


def test_loaded_script_imports_script_files_from_source_and_ships_them_by_value(
    tmp_path: Path,
) -> None:
    from pyspark import cloudpickle

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "rules.py").write_text("import helper\ndef rule(x):\n    return helper.K * x\n")
    (scripts / "helper.py").write_text("K = 2\n")
    script = scripts / "job.py"
    script.write_text("import rules\ndef main(argv, spark=None):\n    return rules.rule\n")
    files = [scripts / "rules.py", scripts / "helper.py"]
    stale = sys.modules["helper"] = types.ModuleType("helper")  # e.g. the worker's own
    path_before, finders_before = list(sys.path), list(sys.meta_path)
    with driver.loaded_script(script, files) as first:
        shipped = cloudpickle.dumps(first.main([]))
    # Edited, same size: read again from the source (no stale bytecode, no module cache).
    (scripts / "helper.py").write_text("K = 3\n")
    with driver.loaded_script(script, files) as second:
        assert second.main([])(5) == 15
    assert (sys.path, sys.meta_path, sys.modules["helper"]) == (path_before, finders_before, stale)
    del sys.modules["helper"]
    assert "rules" not in sys.modules
    # By value: a process that cannot import rules or helper runs the shipped function, and
    # needs no luigi_ufo (an executor has only pyspark): nothing of the loader is shipped.
    run = (
        "import pickle, sys\n"
        "class NoPlugin:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in ('luigi_ufo', 'luigi'):\n"
        "            raise ImportError(name + ' is not installed on an executor')\n"
        "sys.meta_path.insert(0, NoPlugin())\n"
        "print(pickle.loads(sys.stdin.buffer.read())(5))"
    )
    out = subprocess.run(
        [sys.executable, "-c", run], input=shipped, capture_output=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == b"10"
