"""SparkBackfill on real spark-submit (local[2]): many dates in one application, failures, rerun."""

from __future__ import annotations

import csv
import datetime
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import luigi
import pytest

from luigi_ufo.dated import DatedTarget, DatedTaskMixin
from luigi_ufo.errors import BackfillError
from luigi_ufo.spark import ExternalSparkScriptTask, SparkBackfill
from luigi_ufo.ufo.sample import SampleSummary, write_sample
from luigi_ufo.ufo.tasks import SMALL_JOB_CONF, AggregateUFOsByState, ImportUFOExport

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SetConfig = Callable[[str, str, str], None]
DAYS = [datetime.date(2024, 5, 1) + datetime.timedelta(days=i) for i in range(3)]

#: A user's script outside the package: its RDD closure calls a module-level function, so the
#: batch driver must ship the (not importable) module to the Python workers by value.
WORDS_SCRIPT = textwrap.dedent(
    """
    import argparse


    def shout(word):
        return word.upper() + "!"


    def main(argv=None, spark=None):
        parser = argparse.ArgumentParser()
        parser.add_argument("--input", nargs="+", required=True)
        parser.add_argument("--output", nargs="+", required=True)
        args = parser.parse_args(argv)
        words = spark.sparkContext.textFile(args.input[0]).flatMap(str.split)
        if "explode" in words.collect():
            raise RuntimeError("explode found in " + args.input[0])
        rows = sorted(words.map(shout).collect())
        spark.createDataFrame([(w,) for w in rows], "word string").coalesce(1).write.csv(
            args.output[0]
        )
        return 0
    """
)


class Words(DatedTaskMixin, ExternalSparkScriptTask):
    date = luigi.DateParameter()
    root = luigi.Parameter()
    script = "words.py"
    spark_overrides = {"conf": SMALL_JOB_CONF}  # noqa: RUF012

    def output(self) -> DatedTarget:
        return DatedTarget(f"{self.root}/shouted", self.date)

    def app_options(self) -> list[str]:
        return ["--input", f"{self.root}/words/{self.date}.txt", "--output", self.output().path]


def put_raw(lake: Path, day: datetime.date, source: Path) -> None:
    target = DatedTarget(str(lake / "ufo" / "raw"), day)
    if target.exists():
        target.remove_flag()
        (lake / "ufo" / "raw" / day.isoformat() / "export.csv").unlink()
    with target.writer() as writer:
        writer.put_file("export.csv", str(source))


def raw_lake_with_a_bad_date(
    lake: Path, work: Path, days: list[datetime.date], rows: int, bad_day: datetime.date
) -> dict[datetime.date, SampleSummary]:
    """Put a sample of ``rows`` rows per date in ``lake``'s raw dataset, but a file that is no
    NUFORC export for ``bad_day``; return every date's sample (``bad_day``'s for the rerun)."""
    samples = {day: write_sample(work / f"{day}.csv", rows, seed=i) for i, day in enumerate(days)}
    bad = work / "bad.csv"
    bad.write_text(f"when,where\n{bad_day},Tucson\n", encoding="utf-8")
    for day, sample in samples.items():
        put_raw(lake, day, bad if day == bad_day else sample.path)
    return samples


def state_counts(lake: Path, day: datetime.date) -> dict[str, int]:
    (part,) = (lake / "ufo" / "by_state" / day.isoformat()).glob("part-*.csv")
    with part.open() as fh:
        return {row["state"]: int(row["sightings"]) for row in csv.DictReader(fh)}


def test_ufo_dates_in_one_application_a_bad_date_fails_alone_and_a_rerun_finishes_it(
    tmp_path: Path, luigi_config: SetConfig, spark_local_master: str
) -> None:
    lake = tmp_path / "lake"
    luigi_config("lake", "root", str(lake))
    luigi_config("spark_script", "master", spark_local_master)
    samples = raw_lake_with_a_bad_date(lake, tmp_path, DAYS, 400, DAYS[1])
    task = SparkBackfill(
        of=AggregateUFOsByState, start=DAYS[0], stop=DAYS[-1] + datetime.timedelta(days=1)
    )

    with pytest.raises(BackfillError) as info:
        task.run()
    message = str(info.value)
    assert message.startswith("1 of 3 date(s) of AggregateUFOsByState are still incomplete")
    assert "2024-05-02; the other 2 completed" in message
    assert f"2024-05-02 failed: aggregate_by_state: error: {lake}/ufo/raw/2024-05-02" in message
    assert "is not a NUFORC export" in message
    for day in (DAYS[0], DAYS[2]):
        assert state_counts(lake, day) == dict(samples[day].states)
    assert task.missing_dates() == [DAYS[1]]

    put_raw(lake, DAYS[1], samples[DAYS[1]].path)
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    assert task.complete()
    assert state_counts(lake, DAYS[1]) == dict(samples[DAYS[1]].states)
    assert state_counts(lake, DAYS[0]) == dict(samples[DAYS[0]].states)  # not rewritten


def test_a_users_script_with_closures_runs_per_date_and_its_traceback_surfaces(
    tmp_path: Path, luigi_config: SetConfig, spark_local_master: str
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "words.py").write_text(WORDS_SCRIPT, encoding="utf-8")
    luigi_config("spark_script", "scripts_dir", str(scripts))
    luigi_config("spark_script", "master", spark_local_master)
    luigi_config("spark_script", "conf", json.dumps({"spark.ui.enabled": "false"}))
    (tmp_path / "words").mkdir()
    texts = {DAYS[0]: "b a", DAYS[1]: "c explode", DAYS[2]: "d"}
    for day, text in texts.items():
        (tmp_path / "words" / f"{day}.txt").write_text(text + "\n", encoding="utf-8")
    task = SparkBackfill(
        of=Words,
        start=DAYS[0],
        stop=DAYS[-1] + datetime.timedelta(days=1),
        of_params={"root": str(tmp_path)},
    )

    with pytest.raises(BackfillError) as info:
        task.run()
    message = str(info.value)
    assert "incomplete after the backfill: 2024-05-02;" in message
    assert "Traceback (most recent call last)" in message
    assert f"RuntimeError: explode found in {tmp_path}/words/2024-05-02.txt" in message
    shouted = {day: (tmp_path / "shouted" / day.isoformat()).glob("part-*.csv") for day in DAYS}
    assert [p.read_text().split() for p in shouted[DAYS[0]]] == [["A!", "B!"]]
    assert [p.read_text().split() for p in shouted[DAYS[2]]] == [["D!"]]
    assert not (tmp_path / "shouted" / "2024-05-02" / "_SUCCESS").exists()


def test_dates_on_s3_through_s3a_in_one_application(
    s3_endpoint: str,
    s3_bucket: str,
    s3a_jars: list[str],
    tmp_path: Path,
    luigi_config: SetConfig,
    spark_local_master: str,
) -> None:
    import boto3

    luigi_config("lake", "root", f"s3://{s3_bucket}/lake")
    luigi_config("s3_endpoint", "endpoint_url", s3_endpoint)
    luigi_config("s3_endpoint", "path_style", "true")
    luigi_config("spark_script", "master", spark_local_master)
    luigi_config("spark_script", "jars", json.dumps(s3a_jars))
    samples = {
        day: write_sample(tmp_path / f"{day}.csv", 300, seed=i) for i, day in enumerate(DAYS)
    }
    for day, sample in samples.items():
        ImportUFOExport(date=day, source=str(sample.path)).run()
    task = SparkBackfill(of=AggregateUFOsByState, start=DAYS[0], stop=DAYS[-1])  # two dates

    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for day in DAYS[:2]:
        listing = s3.list_objects_v2(Bucket=s3_bucket, Prefix=f"lake/ufo/by_state/{day}/part-")
        (key,) = [obj["Key"] for obj in listing["Contents"]]
        text = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read().decode()
        counts = {row["state"]: int(row["sightings"]) for row in csv.DictReader(text.splitlines())}
        assert counts == dict(samples[day].states)
    assert task.complete()
    assert not AggregateUFOsByState(date=DAYS[2]).complete()  # --stop is exclusive
