"""User-style subclasses of every base class type-check under mypy strict + luigi's plugin."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SPARK_AND_DATED = '''
import datetime
from typing import Any

import luigi

from luigi_ufo.dated import DatedTarget, DatedTaskMixin, lake_target
from luigi_ufo.s3 import S3DatedTarget
from luigi_ufo.spark import ExternalSparkScriptTask, SparkBackfill, SparkSettings


class Clicks(DatedTaskMixin, luigi.ExternalTask):
    date: datetime.date = luigi.DateParameter()

    def output(self) -> DatedTarget:
        return lake_target("clicks", self.date)


class CountClicks(DatedTaskMixin, ExternalSparkScriptTask):
    """Its own parameters are named like Spark settings: they stay its own."""

    date: datetime.date = luigi.DateParameter()
    env: str = luigi.Parameter(default="prod")
    files: tuple[str, ...] = luigi.ListParameter(default=())
    memory: str = luigi.Parameter(default="2g")
    script = "count_clicks.py"
    script_args = ("--min", "2")
    spark_overrides = {"conf": {"spark.sql.shuffle.partitions": "4"}, "timeout": "10m"}

    def requires(self) -> Clicks:
        return Clicks(date=self.date)

    def output(self) -> DatedTarget:
        return DatedTarget("/lake/click_counts", self.date)

    def spark_settings(self) -> SparkSettings:
        return super().spark_settings().override({"executor_memory": self.memory})


class ToS3(ExternalSparkScriptTask):
    date: datetime.date = luigi.DateParameter()
    script = "copy.py"

    def output(self) -> S3DatedTarget:
        return S3DatedTarget("s3://bucket/clicks", self.date)


class BigBackfill(SparkBackfill):
    spark_overrides = {"driver_memory": "4g"}


day = datetime.date(2024, 1, 7)
task = CountClicks(date=day, env="staging", files=("a.csv",))
who: str = task.env
names: tuple[str, ...] = task.files
ToS3(date=day)
BigBackfill(of=CountClicks, start=day, stop=day + datetime.timedelta(days=7))
target: DatedTarget = DatedTarget("/lake/x", day)
uri: str = S3DatedTarget("s3://bucket/x", "2024-01-07").spark_uri
settings: Any = task.spark_settings()
# A misspelt parameter is a constructor error for mypy (strict's warn_unused_ignores proves it).
CountClicks(dat=day)  # type: ignore[call-arg]
'''


POSTGRES = '''
import datetime

import luigi

from luigi_ufo.postgres import PostgresTopNTask


class TopWords(PostgresTopNTask):
    """Written as docs/postgres-topn.md shows it."""

    date = luigi.DateParameter()
    table = "words.top_words"
    n = 5
    rank_by = "count"
    key_columns = ("word",)
    group_by = ("lang",)
    ties = "with_ties"
    partition_columns = {"day": "date"}
    column_types = {"word": "text", "count": "bigint"}
    rank_column = "position"
    skip_bad_rows = True
    lock_partition = False
    marker_table = "words.markers"


class TypedTopWords(PostgresTopNTask):
    """With an annotated parameter, luigi's plugin checks the constructor's arguments."""

    date: datetime.date = luigi.DateParameter()
    table = "words.top_words"
    rank_by = "count"


day = datetime.date(2024, 1, 7)
TopWords(date=day)
same_day: datetime.date = TypedTopWords(date=day).date
# The declarations are not constructor arguments, so mypy rejects this call (strict mode's
# warn_unused_ignores fails the check if it does not).
TypedTopWords(date=day, table="other")  # type: ignore[call-arg]
'''


def test_user_subclasses_of_every_base_pass_mypy_strict(tmp_path: Path) -> None:
    modules = {"user_tasks.py": SPARK_AND_DATED, "top_words.py": POSTGRES}
    for name, source in modules.items():
        (tmp_path / name).write_text(textwrap.dedent(source), encoding="utf-8")
    (tmp_path / "mypy.ini").write_text(
        f"[mypy]\nstrict = true\nplugins = luigi.mypy\nmypy_path = {ROOT}\n", encoding="utf-8"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(tmp_path / "mypy.ini"),
            "--cache-dir",
            str(tmp_path / "cache"),
            *modules,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 2 source files" in result.stdout
