"""One bulk-completeness mechanism: mixed output kinds, one check per storage, all must exist."""

from __future__ import annotations

import datetime
import functools
import pickle
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import luigi
import pytest

from luigi_ufo.bulk import BulkCompleteMixin, BulkTarget, bulk_exists
from luigi_ufo.dated import DatedTarget, DatedTaskMixin
from luigi_ufo.postgres import ConnectionSettings, PostgresMarkerTarget, PostgresTopNTask
from luigi_ufo.s3 import S3DatedTarget
from tests.listings import count_listings

DAYS = [datetime.date(2024, 3, 1) + datetime.timedelta(days=i) for i in range(8)]

#: The rows of an in-memory "table" of run markers, and each bulk check made on it.
ROWS: set[str] = set()
CHECKS: list[int] = []


class RowTarget(luigi.Target):
    """A second target kind implementing the protocol: one lookup answers many runs."""

    def __init__(self, run: str) -> None:
        self.run = run

    def exists(self) -> bool:
        raise AssertionError("a bulk target must not be checked one by one")

    def bulk_key(self) -> Hashable:
        return ("rows",)

    def bulk_exists(self, targets: Sequence[RowTarget]) -> list[bool]:
        CHECKS.append(len(targets))
        return [t.run in ROWS for t in targets]


class Mixed(DatedTaskMixin, luigi.Task):
    """Writes two dated datasets and a row: complete only when all three exist."""

    date = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self) -> dict[str, luigi.Target]:
        return {
            "a": DatedTarget(f"{self.root}/a", self.date),
            "b": [DatedTarget(f"{self.root}/b", self.date)],
            "row": RowTarget(self.date.isoformat()),
        }


def flag(root: Path, day: datetime.date) -> None:
    (root / day.isoformat()).mkdir(parents=True, exist_ok=True)
    (root / day.isoformat() / "_SUCCESS").touch()


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return count_listings(monkeypatch)


def test_a_date_is_complete_only_when_every_kind_of_output_is(
    tmp_path: Path, listings: list[str]
) -> None:
    for day in DAYS[:6]:
        flag(tmp_path / "a", day)
    for day in DAYS[2:]:
        flag(tmp_path / "b", day)
    (tmp_path / "b" / DAYS[1].isoformat()).mkdir()  # parts, no flag: not complete
    ROWS.clear()
    ROWS.update(d.isoformat() for d in DAYS[1:5])
    CHECKS.clear()
    factory = functools.partial(Mixed, root=str(tmp_path))
    done = Mixed.bulk_complete.__func__(factory, DAYS)  # type: ignore[attr-defined]
    assert done == DAYS[2:5]
    assert sorted(listings) == [str(tmp_path / "a"), str(tmp_path / "b")]  # one per dataset
    assert len(CHECKS) == 1  # one check of the other kind for every date
    assert CHECKS[0] == len(DAYS)


def test_other_targets_are_checked_only_where_the_bulk_ones_exist(tmp_path: Path) -> None:
    asked: list[str] = []

    class Probe(luigi.LocalTarget):
        def exists(self) -> bool:
            asked.append(self.path)
            return True

    class WithLocal(DatedTaskMixin, luigi.Task):
        date = luigi.DateParameter()

        def output(self) -> list[luigi.Target]:
            return [DatedTarget(str(tmp_path / "a"), self.date), Probe(f"p-{self.date}")]

    flag(tmp_path / "a", DAYS[3])
    assert WithLocal.bulk_complete(DAYS) == [DAYS[3]]
    assert asked == [f"p-{DAYS[3]}"]


def test_a_task_without_outputs_is_never_complete() -> None:
    class Nothing(DatedTaskMixin, luigi.Task):
        date = luigi.DateParameter()

    assert Nothing.bulk_complete(DAYS[:2]) == []


def test_bulk_exists_groups_by_storage(tmp_path: Path) -> None:
    flag(tmp_path / "a", DAYS[0])
    flag(tmp_path / "b", DAYS[1])
    targets = [DatedTarget(str(tmp_path / n), d) for n in "ab" for d in DAYS[:2]]
    assert bulk_exists(targets) == [True, False, False, True]
    assert {t.bulk_key() for t in targets} == {
        targets[0].bulk_key(),
        targets[2].bulk_key(),
    }
    other_flag = DatedTarget(str(tmp_path / "a"), DAYS[0], flag="_DONE")
    assert other_flag.bulk_key() != targets[0].bulk_key()
    assert bulk_exists([other_flag]) == [False]


def test_marker_targets_join_the_mechanism_grouped_by_server_and_tables() -> None:
    here, there = ConnectionSettings(dsn="host=a"), ConnectionSettings(dsn="host=b")

    def marker(run: str, table: str = "t", settings: ConnectionSettings = here) -> Any:
        return PostgresMarkerTarget(table=table, update_id=run, settings=settings)

    assert isinstance(marker("x"), BulkTarget)
    assert marker("x").bulk_key() == marker("y").bulk_key()
    assert marker("x").bulk_key() != marker("x", table="u").bulk_key()
    assert marker("x").bulk_key() != marker("x", settings=there).bulk_key()
    assert issubclass(PostgresTopNTask, BulkCompleteMixin)
    assert issubclass(DatedTaskMixin, BulkCompleteMixin)


def test_one_class_per_storage() -> None:
    local = DatedTarget("/lake/clicks", DAYS[0])
    remote = DatedTarget("s3://lake/clicks", DAYS[0])
    assert type(local) is DatedTarget
    assert type(remote) is S3DatedTarget
    assert remote.spark_uri == "s3a://lake/clicks/2024-03-01/"
    copy = pickle.loads(pickle.dumps(remote))  # noqa: S301 - our own bytes
    assert type(copy) is S3DatedTarget
    assert copy.uri == remote.uri

    class Own(DatedTarget):
        pass

    assert type(Own("s3://lake/clicks", DAYS[0])) is Own  # a user's subclass stays itself
