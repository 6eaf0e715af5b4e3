"""Lineage: a complete output matches what it was made from, checked as the task asks."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import luigi
import pytest

from luigi_ufo.dated import (
    DatedTarget,
    DatedTaskMixin,
    Lineage,
    LocalFile,
    lineage_status,
    record_lineage,
)
from luigi_ufo.errors import ConfigError
from luigi_ufo.lineage import rebuild_mode
from tests.listings import count_listings

DAY = datetime.date(2024, 2, 1)
#: The "script" of Derived: tests change it to stand for an edited script.
CODE = {"sha256": "a" * 64}


class Imported(DatedTaskMixin, luigi.Task):
    """A local file copied into a dated partition; complete only for that file's content."""

    date = luigi.DateParameter()
    source = luigi.Parameter()
    root = luigi.Parameter()
    rebuild_when = "inputs"

    def output(self) -> DatedTarget:
        return DatedTarget(f"{self.root}/raw", self.date)

    def lineage_inputs(self) -> list[LocalFile]:
        return [LocalFile(str(self.source))]

    def run(self) -> None:
        with self.output().writer(lineage=self.lineage()) as out:
            out.put_file("part-0.csv", str(self.source))


class External(DatedTaskMixin, luigi.ExternalTask):
    """The raw partition, however it got there."""

    date = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self) -> DatedTarget:
        return DatedTarget(f"{self.root}/raw", self.date)


class Derived(DatedTaskMixin, luigi.Task):
    """Upper-cases its input partition into ``<root>/<name>``, recording its lineage."""

    date = luigi.DateParameter()
    root = luigi.Parameter()
    name = luigi.Parameter(default="upper")
    rebuild_when: ClassVar[str | None] = "inputs"

    def requires(self) -> luigi.Task:
        if self.name == "upper":
            return External(date=self.date, root=self.root)
        return Derived(date=self.date, root=self.root, name="upper")

    def output(self) -> DatedTarget:
        return DatedTarget(f"{self.root}/{self.name}", self.date)

    def lineage_code(self) -> str:
        return CODE["sha256"]

    def run(self) -> None:
        made = self.lineage()
        text = "".join(self.input().read_text()).upper()
        with self.output().writer() as out:
            out.write_text("part-0.csv", text)
        record_lineage([self], [made])


@pytest.fixture(autouse=True)
def _fresh() -> None:
    CODE["sha256"] = "a" * 64
    luigi.task_register.Register.clear_instance_cache()


def export(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def build(*tasks: luigi.Task) -> None:
    assert luigi.build(list(tasks), local_scheduler=True, log_level="WARNING")


def test_an_import_of_other_content_for_the_same_date_is_not_complete(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    first = export(tmp_path, "truncated.csv", "ca\n")
    full = export(tmp_path, "full.csv", "ca\nca\nfl\n")
    same = export(tmp_path, "copy-of-full.csv", "ca\nca\nfl\n")
    build(Imported(date=DAY, source=first, root=root))
    assert Imported(date=DAY, source=first, root=root).complete()
    assert not Imported(date=DAY, source=full, root=root).complete()
    factory = functools.partial(Imported, root=root)
    values = [{"date": DAY, "source": first}, {"date": DAY, "source": full}]
    assert Imported.bulk_complete.__func__(factory, values) == values[:1]  # type: ignore[attr-defined]
    build(Imported(date=DAY, source=full, root=root))
    assert Imported(date=DAY, source=full, root=root).complete()
    assert Imported(date=DAY, source=same, root=root).complete()  # same bytes, other path
    assert not Imported(date=DAY, source=first, root=root).complete()
    # The record says what was imported: the file's size and sha256.
    (record,) = (tmp_path / "lake/raw/2024-02-01").glob("_lineage.*.json")
    body = Path(full).read_bytes()
    content = json.loads(record.read_text(encoding="utf-8"))
    assert content["inputs"][0]["identity"] == (
        f"content:{len(body)}:{hashlib.sha256(body).hexdigest()}"
    )


def test_a_changed_input_makes_every_task_below_incomplete(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    build(Imported(date=DAY, source=export(tmp_path, "a.csv", "ca\n"), root=root))
    top = Derived(date=DAY, root=root, name="top")
    build(top)
    assert top.complete()
    assert list(DatedTarget(f"{root}/top", DAY).read_text()) == ["CA\n"]
    # Another export for the date: the direct input of "top" is unchanged, yet it is due.
    build(Imported(date=DAY, source=export(tmp_path, "b.csv", "fl\n"), root=root))
    assert DatedTarget(f"{root}/top", DAY).exists()
    assert not Derived(date=DAY, root=root, name="upper").complete()
    assert not top.complete()
    assert lineage_status([Derived(date=DAY, root=root), top]) == ["inputs changed", "current"]
    build(top)
    assert top.complete()
    assert list(DatedTarget(f"{root}/top", DAY).read_text()) == ["FL\n"]


def test_without_rebuild_when_a_changed_input_is_reported_not_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(tmp_path / "lake")
    build(Imported(date=DAY, source=export(tmp_path, "a.csv", "ca\n"), root=root))
    build(Derived(date=DAY, root=root))
    build(Imported(date=DAY, source=export(tmp_path, "b.csv", "fl\n"), root=root))
    monkeypatch.setattr(Derived, "rebuild_when", None)  # follows [lineage] rebuild_when: never
    assert Derived(date=DAY, root=root).complete()
    assert lineage_status([Derived(date=DAY, root=root)]) == ["inputs changed"]


def test_an_edited_script_reschedules_only_when_asked(
    tmp_path: Path, luigi_config: Callable[[str, str, str], None]
) -> None:
    root = str(tmp_path / "lake")
    build(Imported(date=DAY, source=export(tmp_path, "a.csv", "ca\n"), root=root))
    build(Derived(date=DAY, root=root))
    CODE["sha256"] = "b" * 64
    task = Derived(date=DAY, root=root)
    assert task.complete()  # rebuild_when = "inputs": a script edit reschedules nothing
    assert lineage_status([task]) == ["script changed"]
    luigi_config("lineage", "rebuild_when", "inputs-or-script")  # raises the class's minimum
    assert not task.complete()
    build(task)
    assert task.complete()
    assert lineage_status([task]) == ["current"]


def test_an_output_without_a_record_is_judged_as_make_would(tmp_path: Path) -> None:
    # Made before records existed, by other means, or by a run killed between flag and record.
    root = tmp_path / "lake"
    for name in ("raw", "upper"):
        (root / name / "2024-02-01").mkdir(parents=True)
        (root / name / "2024-02-01" / "part-0.csv").write_text("x\n", encoding="utf-8")
        (root / name / "2024-02-01" / "_SUCCESS").touch()
    raw_part = root / "raw" / "2024-02-01" / "part-0.csv"
    for path in (raw_part, root / "raw" / "2024-02-01" / "_SUCCESS"):
        os.utime(path, (1_000_000, 1_000_000))
    os.utime(root / "upper" / "2024-02-01" / "_SUCCESS", (2_000_000, 2_000_000))
    task = Derived(date=DAY, root=str(root))
    assert lineage_status([task]) == ["not recorded"]
    assert task.complete()  # finished after its input was written
    os.utime(raw_part, (3_000_000, 3_000_000))  # the input was written again since
    assert not task.complete()
    build(task)
    assert task.complete()
    assert lineage_status([task]) == ["current"]


def test_an_import_without_a_record_is_due_whatever_the_times(tmp_path: Path) -> None:
    source = export(tmp_path, "a.csv", "ca\n")
    os.utime(source, (1_000_000, 1_000_000))  # an old file (a checkout, a copy with -p)
    partition = tmp_path / "lake" / "raw" / "2024-02-01"
    partition.mkdir(parents=True)
    (partition / "part-0.csv").write_text("fl\n", encoding="utf-8")
    (partition / "_SUCCESS").touch()
    task = Imported(date=DAY, source=source, root=str(tmp_path / "lake"))
    assert not task.complete()  # known by content only: without a record, nothing says which
    build(task)
    assert task.complete()


def test_a_partition_without_a_record_is_known_by_its_parts(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    part = root / "raw" / "2024-02-01" / "part-0.csv"
    part.parent.mkdir(parents=True)
    part.write_text("ca\n", encoding="utf-8")
    (part.parent / "_SUCCESS").touch()
    task = Derived(date=DAY, root=str(root))
    build(task)
    assert task.complete()
    part.write_text("fl\n", encoding="utf-8")  # replaced by other means
    assert not task.complete()


def test_rebuild_when_is_declared_by_recording_classes(
    luigi_config: Callable[[str, str, str], None],
) -> None:
    class Plain(DatedTaskMixin, luigi.Task):
        pass

    class Follows(DatedTaskMixin, luigi.Task):
        rebuild_when: ClassVar[str | None] = None

    class Wrong(DatedTaskMixin, luigi.Task):
        rebuild_when = "sometimes"

    luigi_config("lineage", "rebuild_when", "inputs")
    assert rebuild_mode(Plain) == "never"  # records nothing: never checked
    assert rebuild_mode(Follows) == "inputs"
    assert rebuild_mode(Derived) == "inputs"
    with pytest.raises(ConfigError, match=r"Wrong.rebuild_when = 'sometimes' is invalid"):
        rebuild_mode(Wrong)


def test_a_new_record_replaces_the_old_and_two_records_mean_none(tmp_path: Path) -> None:
    target = DatedTarget(str(tmp_path / "ds"), DAY)
    with target.writer(lineage=Lineage((("a", "x"),))) as out:
        out.write_text("part-0.csv", "x\n")
    newer = Lineage((("a", "y"),), code="c" * 64)
    target.record_lineage(newer)
    assert [stamp for stamp, _ in target.bulk_lineage([target])] == [newer.stamp]
    assert target.read_lineage() is not None
    assert target.read_lineage()["stamp"] == newer.stamp  # type: ignore[index]
    (tmp_path / "ds/2024-02-01/_lineage.0000000000000000.none.json").write_text("{}")
    assert [stamp for stamp, _ in target.bulk_lineage([target])] == [None]
    assert target.read_lineage() is None


def test_a_year_of_dates_is_checked_with_one_listing_per_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "lake"
    days = [DAY + datetime.timedelta(days=i) for i in range(365)]
    raw = [DatedTarget(str(root / "raw"), d) for d in days]
    for target in raw:
        with target.writer() as out:
            out.write_text("part-0.csv", "ca\n")
    upper = [Derived(date=d, root=str(root)) for d in days]
    record_lineage(upper[1:], [t.lineage() for t in upper[1:]])  # nothing to record yet
    for task in upper[1:]:
        with task.output().writer(lineage=task.lineage()) as out:
            out.write_text("part-0.csv", "CA\n")
    (root / "raw" / "2024-02-03" / "part-0.csv").write_text("fl\n")  # replaced: outdated
    luigi.task_register.Register.clear_instance_cache()
    listings = count_listings(monkeypatch)
    factory = functools.partial(Derived, root=str(root))
    done = Derived.bulk_complete.__func__(factory, days)  # type: ignore[attr-defined]
    assert sorted(set(days) - set(done)) == [days[0], days[2]]
    assert sorted(listings) == [str(root / "raw"), str(root / "upper")]


def test_the_mixins_leave_luigis_own_completeness_alone_when_nothing_is_asked(
    tmp_path: Path,
) -> None:
    asked: list[Any] = []

    class Probe(luigi.LocalTarget):
        def exists(self) -> bool:
            asked.append(self.path)
            return True

    class Plain(DatedTaskMixin, luigi.Task):
        def output(self) -> Probe:
            return Probe(str(tmp_path / "x"))

    assert Plain().complete()
    assert asked == [str(tmp_path / "x")]
