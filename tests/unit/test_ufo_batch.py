"""The scripts' local-lake runs (local_lake.py), as a Spark task does them, without Spark.

What a task runs per date (``run_in_task``) is checked here against the generator's expected
counts and main()'s error messages; the one-job path itself runs against a real server in
tests/integration/test_spark_connect.py.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any

import pytest

from luigi_ufo.ufo.sample import write_sample
from tests.reference_scripts import aggregate_by_state, local_lake, nuforc, top_10

ERRORS = (nuforc.InputError,)


def read_rows(directory: Path) -> dict[str, int]:
    assert sorted(p.name for p in directory.iterdir()) == ["_SUCCESS", "part-00000.csv"]
    with (directory / "part-00000.csv").open(encoding="utf-8", newline="") as fh:
        return {key: int(n) for key, n in list(csv.reader(fh))[1:]}


def run_of(tmp_path: Path, source: Path | str, *extra: str) -> Any:
    argv = ["--input", str(source), "--output", str(tmp_path / "s")]
    args = aggregate_by_state.parse([*argv, "--rejected-output", str(tmp_path / "r"), *extra])
    return functools.partial(aggregate_by_state.run_locally, args)


def test_a_run_done_whole_in_one_task_writes_the_expected_counts(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "in.csv.gz", 2_000, seed=5)
    run = run_of(tmp_path, sample.path)
    label, summary, error, trace = local_lake.run_in_task("2024-01-01", run, ERRORS)
    assert (label, error, trace) == ("2024-01-01", "", "")
    assert read_rows(tmp_path / "s") == dict(sample.states)
    rejected = read_rows(tmp_path / "r")
    assert list(rejected) == list(nuforc.REASONS)  # every reason, zeros included
    assert {k: n for k, n in rejected.items() if n} == {
        k: n for k, n in sample.rejected.items() if n
    }
    assert summary.startswith(f"aggregate_by_state: 1 file(s), {sample.records} records")


def test_bad_input_gives_mains_message_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,where\n2024-05-02,Tucson\n", encoding="utf-8")
    _, summary, error, trace = local_lake.run_in_task("d", run_of(tmp_path, bad), ERRORS)
    assert error.startswith(f"{bad}: header ")
    assert "is not a NUFORC export" in error
    assert (trace, summary) == ("", "")
    assert not (tmp_path / "s").exists()
    assert not (tmp_path / "r").exists()


def test_the_rejected_fraction_rule_applies(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "in.csv", 500, seed=2)
    run = run_of(tmp_path, sample.path, "--max-rejected-fraction", "0")
    _, _, error, _ = local_lake.run_in_task("d", run, ERRORS)
    assert "above --max-rejected-fraction 0.0" in error
    assert "nothing was written" in error
    assert not (tmp_path / "s").exists()


def test_an_unexpected_failure_returns_its_traceback(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "in.csv", 100, seed=1)
    (tmp_path / "r").write_text("a file where a directory must go")
    _, summary, error, trace = local_lake.run_in_task("d", run_of(tmp_path, sample.path), ERRORS)
    assert error.startswith("FileExistsError: ")
    assert trace.startswith("Traceback (most recent call last)")
    assert summary == ""


@pytest.mark.parametrize(
    ("source", "expected"),
    [("/lake/raw", True), ("file:///lake/raw", True), ("lake/raw", False), ("s3a://b/raw", False)],
)
def test_only_absolute_local_paths_go_to_one_job(source: str, expected: bool) -> None:
    assert local_lake.absolute_local([source, "/lake/out"]) is expected


def test_main_batch_leaves_a_classic_session_to_main() -> None:
    assert aggregate_by_state.main_batch([("d", ["--input", "/x"])], spark=None) == {}


def test_top_10_ranks_and_replaces_locally(tmp_path: Path) -> None:
    local_lake.replace_dataset(str(tmp_path / "s"), ("state", "sightings"), [("TX", 3), ("CA", 9)])
    args = top_10.build_parser().parse_args(
        ["--input", str(tmp_path / "s"), "--output", str(tmp_path / "t"), "--top", "1"]
    )
    run = functools.partial(top_10.rank_locally, args)
    _, line, error, trace = local_lake.run_in_task("", run, (top_10.InputError,))
    assert (line, error, trace) == ("top_10: 1 of 2 states: CA 9", "", "")
    assert (tmp_path / "t" / "part-00000.csv").read_text() == "rank,state,sightings\n1,CA,9\n"
    args.input = str(tmp_path / "none")
    _, _, error, _ = local_lake.run_in_task("", run, (top_10.InputError,))
    assert (
        error == f"input {str(tmp_path / 'none')!r} does not exist; run AggregateUFOsByState first"
    )
