"""The local-directory backend: same flag rule, same bulk listing, same atomic writes."""

from __future__ import annotations

import datetime
import gzip
import os
import tempfile
from pathlib import Path

import pytest

from luigi_ufo.dated import DatedDataset, DatedTarget, LocalStorage, parse_root
from luigi_ufo.errors import DatedTargetError, StorageError

pytestmark = pytest.mark.integration

DAY0 = datetime.date(2024, 1, 1)


def touch(path: Path, body: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def write_parts(target: DatedTarget, names: list[str], *, fail: bool = False) -> None:
    """Write ``names`` in one partition write; raise inside the block when ``fail``."""
    with target.writer() as writer:
        for name in names:
            writer.write_text(name, "new\n")
        if fail:
            raise RuntimeError("boom")


def test_exists_needs_the_flag_not_just_parts(tmp_path: Path) -> None:
    target = DatedTarget(str(tmp_path / "ds"), DAY0)
    assert type(target) is DatedTarget
    assert not target.exists()
    touch(tmp_path / "ds/2024-01-01/part-00000.csv")
    assert not target.exists()
    touch(tmp_path / "ds/2024-01-01/_SUCCESS", b"")
    assert target.exists()
    assert target.uri == f"{tmp_path}/ds/2024-01-01/"
    assert target.spark_uri == target.uri


def test_bulk_completeness_and_gaps_from_one_listing(tmp_path: Path) -> None:
    dates = [DAY0 + datetime.timedelta(days=i) for i in range(60)]
    missing, incomplete = set(dates[::6]), set(dates[1::10])
    for day in dates:
        if day in missing:
            continue
        touch(tmp_path / "ds" / day.isoformat() / "part-00000.csv")
        if day not in incomplete:
            touch(tmp_path / "ds" / day.isoformat() / "_SUCCESS", b"")
    touch(tmp_path / "ds/2024-01-32/_SUCCESS")  # sorts inside the range, is no date
    touch(tmp_path / "ds/README.md")
    dataset = DatedDataset(str(tmp_path / "ds"))
    assert dataset.complete_dates(dates) == set(dates) - missing - incomplete
    assert dataset.storage.requests == 1
    gaps = dataset.gaps(dates[0], dates[-1])
    assert set(gaps.missing) == missing
    assert set(gaps.incomplete) == incomplete
    assert gaps.requests == 1
    assert gaps.invalid_names == ("2024-01-32",)
    assert dataset.present_dates(dates[0], dates[2]) == [dates[1], dates[2]]


def test_a_root_that_does_not_exist_yet_is_all_missing(tmp_path: Path) -> None:
    gaps = DatedTarget.gaps(str(tmp_path / "nothing"), DAY0, DAY0 + datetime.timedelta(days=2))
    assert len(gaps.missing) == 3
    with pytest.raises(DatedTargetError, match="before start"):
        DatedTarget.gaps(str(tmp_path), DAY0, DAY0 - datetime.timedelta(days=1))


def test_write_then_read_parts_text_binary_and_gz(tmp_path: Path) -> None:
    target = DatedTarget(str(tmp_path / "out"), "2024-01-01")
    touch(tmp_path / "out/2024-01-01/part-stale.csv")
    with target.writer() as writer:
        writer.write_text("part-00000.csv", "a,b\n1,2\n")
        with writer.open("part-00001.csv.gz", newline="") as fh:
            fh.write("3,4\r\n")
        source = tmp_path / "export.csv"
        source.write_text("5,6\n")
        writer.put_file("part-00002.csv", source)
    touch(tmp_path / "out/2024-01-01/_temporary/0/part-x")
    touch(tmp_path / "out/2024-01-01/.part-00000.csv.crc")
    assert target.exists()
    assert list(target.iter_parts()) == ["part-00000.csv", "part-00001.csv.gz", "part-00002.csv"]
    assert gzip.decompress((tmp_path / "out/2024-01-01/part-00001.csv.gz").read_bytes()) == (
        b"3,4\r\n"
    )
    with target.open_part("part-00001.csv.gz", newline="") as fh:
        assert fh.read() == "3,4\r\n"
    with target.open_part("part-00000.csv", "rb") as fh:
        assert fh.read() == b"a,b\n1,2\n"
    assert list(target.read_text()) == ["a,b\n", "1,2\n", "3,4\n", "5,6\n"]
    with pytest.raises(DatedTargetError, match="not a part"):
        target.open_part("_SUCCESS")
    with pytest.raises(DatedTargetError, match="mode"):
        target.open_part("part-00000.csv", "w")


def test_a_failure_in_the_block_keeps_the_old_partition(tmp_path: Path) -> None:
    target = DatedTarget(str(tmp_path / "out"), DAY0)
    with target.writer() as writer:
        writer.write_text("part-00000.csv", "old\n")
    with pytest.raises(RuntimeError, match="boom"):
        write_parts(target, ["part-00000.csv"], fail=True)
    assert target.exists()
    assert list(target.read_text()) == ["old\n"]


class _FailSecondPut(LocalStorage):
    """Local storage whose second part upload fails, like a disk filling up mid-write."""

    def put_file(self, rel: str, local_path: str) -> None:
        if rel.endswith("part-00001.csv"):
            raise OSError("disk full")
        super().put_file(rel, local_path)


def test_a_failure_during_upload_leaves_no_flag(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    with DatedTarget(root, DAY0).writer() as writer:
        writer.write_text("part-00000.csv", "old\n")
    target = DatedTarget(root, DAY0, storage=_FailSecondPut(parse_root(root)))
    with pytest.raises(OSError, match="disk full"):
        write_parts(target, ["part-00000.csv", "part-00001.csv"])
    assert not DatedTarget(root, DAY0).exists()


def test_a_full_file_system_names_the_path_and_the_cause(tmp_path: Path, full_disk: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(200_000))
    target = DatedTarget(str(full_disk / "ds"), DAY0)
    with pytest.raises(StorageError) as raised, target.writer() as writer:
        writer.put_file("part-00000.bin", big)
    where = repr(str(full_disk / "ds" / "2024-01-01" / "part-00000.bin"))
    assert str(raised.value).startswith(f"could not write {where}: No space left on device")
    assert "(ENOSPC); free space there or move the dataset root" in str(raised.value)
    assert os.listdir(full_disk / "ds" / "2024-01-01") == []  # no flag, no temporary file


def test_a_full_staging_directory_says_tmpdir(
    tmp_path: Path, full_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(200_000))
    monkeypatch.setattr(tempfile, "tempdir", str(full_disk))  # where parts are staged
    target = DatedTarget(str(tmp_path / "ds"), DAY0)
    fix = r"No space left on device \(ENOSPC\); free space there or point TMPDIR"
    with pytest.raises(StorageError, match=fix), target.writer() as writer:
        writer.put_file("part-00000.bin", big)
    assert not target.exists()
    assert os.listdir(full_disk) == []  # the staging directory went


@pytest.mark.parametrize("name", ["_SUCCESS", ".hidden", "../escape.csv", "a//b", ""])
def test_bad_part_names_are_refused(tmp_path: Path, name: str) -> None:
    with (
        pytest.raises(DatedTargetError, match="not allowed"),
        DatedTarget(str(tmp_path), DAY0).writer() as writer,
    ):
        writer.write_text(name, "x")
