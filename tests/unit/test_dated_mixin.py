"""DatedTaskMixin.bulk_complete as Luigi's range tools call it (a partial, bare values)."""

from __future__ import annotations

import datetime
import functools
from pathlib import Path

import luigi
import pytest

import luigi_ufo.dated
import luigi_ufo.s3
from luigi_ufo.dated import DatedTarget, DatedTaskMixin

DAYS = [datetime.date(2024, 1, 1) + datetime.timedelta(days=i) for i in range(6)]


class MixinProbe(DatedTaskMixin, luigi.Task):
    date = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self) -> DatedTarget:
        return DatedTarget(self.root, self.date)


class TwoOutputsProbe(DatedTaskMixin, luigi.Task):
    day = luigi.DateParameter()
    root = luigi.Parameter()
    date_param_name = "day"

    def output(self) -> list[luigi.Target]:
        return [
            DatedTarget(self.root + "/a", self.day),
            luigi.LocalTarget(f"{self.root}/marker-{self.day.isoformat()}"),
        ]


def flag(root: Path, day: datetime.date) -> None:
    (root / day.isoformat()).mkdir(parents=True, exist_ok=True)
    (root / day.isoformat() / "_SUCCESS").touch()


def test_bulk_complete_with_a_partial_like_range_daily(tmp_path: Path) -> None:
    for day in DAYS[::2]:
        flag(tmp_path, day)
    (tmp_path / DAYS[1].isoformat()).mkdir()
    (tmp_path / DAYS[1].isoformat() / "part-00000.csv").touch()  # parts only: not complete
    partial = functools.partial(MixinProbe, root=str(tmp_path))
    done = MixinProbe.bulk_complete.__func__(partial, iter(DAYS))  # type: ignore[attr-defined]
    assert done == DAYS[::2]
    assert MixinProbe.bulk_complete([{"date": DAYS[0], "root": str(tmp_path)}]) == [
        {"date": DAYS[0], "root": str(tmp_path)}
    ]


def test_every_output_must_be_complete_and_the_param_name_is_configurable(
    tmp_path: Path,
) -> None:
    for day in DAYS[:4]:
        flag(tmp_path / "a", day)
    for day in DAYS[2:]:
        (tmp_path / f"marker-{day.isoformat()}").touch()
    partial = functools.partial(TwoOutputsProbe, root=str(tmp_path))
    done = TwoOutputsProbe.bulk_complete.__func__(partial, DAYS)  # type: ignore[attr-defined]
    assert done == DAYS[2:4]


@pytest.mark.parametrize("module", [luigi_ufo.dated, luigi_ufo.s3])
def test_public_surface_resolves(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names, key=str)
    assert all(getattr(module, name) is not None for name in names)
