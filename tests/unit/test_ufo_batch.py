"""The aggregation script's one-job path (main_batch, Connect on a local lake), without Spark.

What an executor runs per date (``run_here``) is checked here against the generator's expected
counts and main()'s error messages; the job itself runs against a real server in
tests/integration/test_spark_connect.py.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from luigi_ufo.scripts import aggregate_by_state as agg
from luigi_ufo.scripts import top_10

from luigi_ufo.ufo.sample import write_sample


def read_rows(directory: Path) -> dict[str, int]:
    assert sorted(p.name for p in directory.iterdir()) == ["_SUCCESS", "part-00000.csv"]
    with (directory / "part-00000.csv").open(encoding="utf-8", newline="") as fh:
        return {key: int(n) for key, n in list(csv.reader(fh))[1:]}


def args_of(tmp_path: Path, source: Path | str, *extra: str) -> Any:
    argv = ["--input", str(source), "--output", str(tmp_path / "s")]
    return agg.build_parser().parse_args([*argv, "--rejected-output", str(tmp_path / "r"), *extra])


def test_a_run_done_whole_in_one_process_writes_the_expected_counts(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "in.csv.gz", 2_000, seed=5)
    run = agg.local_run("2024-01-01", args_of(tmp_path, sample.path))
    label, error, trace, summary = agg.run_here(run)
    assert (label, error, trace) == ("2024-01-01", "", "")
    assert read_rows(tmp_path / "s") == dict(sample.states)
    rejected = read_rows(tmp_path / "r")
    assert list(rejected) == list(agg.REASONS)  # every reason, zeros included
    assert {k: n for k, n in rejected.items() if n} == {
        k: n for k, n in sample.rejected.items() if n
    }
    assert summary.startswith(f"aggregate_by_state: 1 file(s), {sample.records} records")


def test_bad_input_gives_mains_message_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,where\n2024-05-02,Tucson\n", encoding="utf-8")
    _, error, trace, summary = agg.run_here(agg.local_run("d", args_of(tmp_path, bad)))
    assert error.startswith(f"aggregate_by_state: error: {bad}: header ")
    assert "is not a NUFORC export" in error
    assert (trace, summary) == ("", "")
    assert not (tmp_path / "s").exists()
    assert not (tmp_path / "r").exists()


def test_the_rejected_fraction_rule_applies(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "in.csv", 500, seed=2)
    run = agg.local_run("d", args_of(tmp_path, sample.path, "--max-rejected-fraction", "0"))
    _, error, _, _ = agg.run_here(run)
    assert "above --max-rejected-fraction 0.0" in error
    assert "nothing was written" in error
    assert not (tmp_path / "s").exists()


def test_an_unexpected_failure_returns_its_traceback(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "in.csv", 100, seed=1)
    (tmp_path / "r").write_text("a file where a directory must go")
    _, error, trace, summary = agg.run_here(agg.local_run("d", args_of(tmp_path, sample.path)))
    assert error.startswith("FileExistsError: ")
    assert trace.startswith("Traceback (most recent call last)")
    assert summary == ""


@pytest.mark.parametrize(
    ("source", "expected"),
    [("/lake/raw", True), ("file:///lake/raw", True), ("lake/raw", False), ("s3a://b/raw", False)],
)
def test_only_absolute_local_paths_go_to_one_job(
    tmp_path: Path, source: str, expected: bool
) -> None:
    args = args_of(tmp_path, source)
    assert agg.absolute_local([*args.input, args.output, args.rejected_output]) is expected


def test_main_batch_leaves_a_classic_session_to_main() -> None:
    assert agg.main_batch([("d", ["--input", "/x"])], spark=None) == {}


def test_top_10_ranks_and_replaces_locally(tmp_path: Path) -> None:
    agg.replace_local_dataset(str(tmp_path / "s"), agg.STATE_HEADER, [("TX", 3), ("CA", 9)])
    error, trace, line = top_10.rank_here(str(tmp_path / "s"), str(tmp_path / "t"), 1)
    assert (error, trace, line) == ("", "", "top_10: 1 of 2 states: CA 9")
    assert (tmp_path / "t" / "part-00000.csv").read_text() == "rank,state,sightings\n1,CA,9\n"
    error, _, _ = top_10.rank_here(str(tmp_path / "none"), str(tmp_path / "t"), 1)
    assert error == f"top_10: error: input {str(tmp_path / 'none')!r} does not exist; run " + (
        "AggregateUFOsByState first"
    )
