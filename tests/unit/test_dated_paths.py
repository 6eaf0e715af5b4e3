"""Pure partition logic: roots, partition names, date <-> key round trips."""

from __future__ import annotations

import datetime
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luigi_ufo.dated import DatedTarget, Gaps, parse_partition_name, parse_root, partition_name
from luigi_ufo.dated.paths import (
    Root,
    coerce_date,
    is_part_name,
    partition_uri,
    split_rel_key,
)
from luigi_ufo.errors import DatedTargetError, InvalidRootError
from luigi_ufo.s3 import S3DatedTarget

_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-=", min_size=1, max_size=12)
_bucket = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)
_s3_roots = st.builds(
    lambda b, segs, scheme: f"{scheme}://{b}/" + "/".join(segs),
    _bucket,
    st.lists(_segment, max_size=4),
    st.sampled_from(["s3", "s3a"]),
)
_local_roots = st.builds(lambda segs: "/" + "/".join(segs), st.lists(_segment, min_size=1))


@settings(deadline=None)  # five helpers share two cores; timing is not the property
@given(date=st.dates(), root=st.one_of(_s3_roots, _local_roots))
def test_date_key_round_trip_for_any_date_and_root(date: datetime.date, root: str) -> None:
    parsed = parse_root(root)
    uri = partition_uri(parsed, date)
    assert uri.endswith(f"/{partition_name(date)}/")
    assert parse_partition_name(partition_name(date)) == date
    assert split_rel_key(partition_name(date) + "/_SUCCESS") == (date, "_SUCCESS")


@settings(deadline=None)
@given(date=st.dates())
def test_partition_names_sort_like_dates(date: datetime.date) -> None:
    later = date + datetime.timedelta(days=1) if date < datetime.date.max else date
    assert (partition_name(date) <= partition_name(later)) == (date <= later)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2024-01-15", datetime.date(2024, 1, 15)),
        ("2024-02-29", datetime.date(2024, 2, 29)),
        ("0001-01-01", datetime.date(1, 1, 1)),
        ("2024-02-30", None),
        ("2023-02-29", None),
        ("2024-13-01", None),
        ("2024-00-10", None),
        ("2024-1-5", None),
        ("20240115", None),
        ("2024-01-15x", None),
        (" 2024-01-15", None),
        ("date=2024-01-15", None),
        ("_SUCCESS", None),
        ("", None),
    ],
)
def test_parse_partition_name(name: str, expected: datetime.date | None) -> None:
    assert parse_partition_name(name) == expected


@pytest.mark.parametrize(
    "root",
    [
        "s3:/x",
        "s3:x/y",
        "s3://",
        "s3:///prefix",
        "s3://Bad_Bucket/x",
        "s3://ab/x",
        "s3://-bucket/x",
        "s3://bucket/../x",
        "gs://bucket/x",
        "hdfs://nn/x",
        "",
        "   ",
        "file://",
    ],
)
def test_malformed_roots_raise_invalid_root(root: str) -> None:
    with pytest.raises(InvalidRootError, match="root"):
        parse_root(root)


def test_roots_are_normalised() -> None:
    assert parse_root("s3a://lake/a//b/") == Root("s3", "lake", "a/b")
    assert parse_root("s3://lake").uri == "s3://lake"
    assert parse_root("s3://lake/").key_prefix == ""
    assert parse_root("s3://lake/clicks").key_prefix == "clicks/"
    assert parse_root("file:///data/lake/").uri == "/data/lake"
    assert parse_root("lake/clicks").uri == os.path.abspath("lake/clicks")


@pytest.mark.parametrize("value", ["2024-02-30", "2024/01/15", 20240115, None, "yesterday"])
def test_a_date_that_is_not_a_date_raises(value: object) -> None:
    with pytest.raises(DatedTargetError, match="is not a date"):
        coerce_date(value)


def test_coerce_date_accepts_dates_datetimes_and_iso_strings() -> None:
    day = datetime.date(2024, 1, 15)
    assert coerce_date(day) == day
    assert coerce_date(datetime.datetime(2024, 1, 15, 13, 5)) == day
    assert coerce_date("2024-01-15") == day


@pytest.mark.parametrize(
    ("rel", "is_part"),
    [
        ("part-00000.csv", True),
        ("state=CA/part-00000.csv.gz", True),
        ("_SUCCESS", False),
        ("_temporary/0/part-00000", False),
        (".part-00000.crc", False),
        ("sub/", False),
        ("", False),
    ],
)
def test_is_part_name(rel: str, is_part: bool) -> None:
    assert is_part_name(rel) is is_part


def test_target_uris_local_and_s3() -> None:
    local = DatedTarget("/data/lake/clicks/", "2024-01-15")
    assert local.uri == "/data/lake/clicks/2024-01-15/"
    assert local.spark_uri == local.uri
    assert local.flag_uri == "/data/lake/clicks/2024-01-15/_SUCCESS"
    remote = S3DatedTarget("s3://lake/clicks", datetime.date(2024, 1, 15), flag="_DONE")
    assert remote.uri == "s3://lake/clicks/2024-01-15/"
    assert remote.spark_uri == "s3a://lake/clicks/2024-01-15/"
    assert remote.flag_uri == "s3://lake/clicks/2024-01-15/_DONE"
    assert repr(remote) == "S3DatedTarget('s3://lake/clicks', '2024-01-15')"


def test_s3_target_refuses_a_local_root() -> None:
    with pytest.raises(InvalidRootError, match="not an s3:// URI"):
        S3DatedTarget("/data/lake", datetime.date(2024, 1, 15))


@pytest.mark.parametrize("flag", ["", "a/b", "..", "."])
def test_flag_must_be_a_plain_name(flag: str) -> None:
    with pytest.raises(DatedTargetError, match="success flag"):
        DatedTarget("/data/lake", datetime.date(2024, 1, 15), flag=flag)


def test_gaps_to_run_merges_missing_and_incomplete_in_order() -> None:
    d = datetime.date
    gaps = Gaps(
        start=d(2024, 1, 1),
        end=d(2024, 1, 5),
        complete=(d(2024, 1, 2),),
        missing=(d(2024, 1, 1), d(2024, 1, 5)),
        incomplete=(d(2024, 1, 3), d(2024, 1, 4)),
        requests=1,
    )
    assert gaps.to_run == (d(2024, 1, 1), d(2024, 1, 3), d(2024, 1, 4), d(2024, 1, 5))
    assert not gaps.ok


@pytest.mark.parametrize(
    ("uri", "s3a", "on_s3"),
    [
        ("s3://b/p/", "s3a://b/p/", True),
        ("s3n://b/p/", "s3a://b/p/", True),
        ("s3a://b/p/", "s3a://b/p/", True),
        ("/lake/p/", "/lake/p/", False),
        ("file:/lake/p/", "file:/lake/p/", False),
    ],
)
def test_one_s3_to_s3a_rewrite(uri: str, s3a: str, on_s3: bool) -> None:
    from luigi_ufo.uris import is_s3_uri, to_s3a

    assert (to_s3a(uri), is_s3_uri(uri)) == (s3a, on_s3)
