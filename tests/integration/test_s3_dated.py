"""S3DatedTarget against a real S3 HTTP endpoint (moto server from the harness)."""

from __future__ import annotations

import datetime
import gzip
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from luigi_ufo.dated import DatedTarget, Lineage
from luigi_ufo.errors import StorageError
from luigi_ufo.s3 import S3DatedTarget, S3Settings
from luigi_ufo.s3.client import make_client

pytestmark = pytest.mark.integration

DAY0 = datetime.date(2024, 1, 1)


@dataclass
class Sent:
    """HTTP requests a client sent (retries included), as (method, url)."""

    requests: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.requests)

    def clear(self) -> None:
        self.requests.clear()


def count_requests(client: Any) -> Sent:
    """Record every HTTP request ``client`` sends from now on."""
    sent = Sent()

    def hook(request: Any, **_: Any) -> None:
        sent.requests.append((request.method, request.url))

    client.meta.events.register("before-send", hook)
    return sent


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def inject_503(client: Any, times: int, when: Callable[[Any], bool] = lambda r: True) -> list[int]:
    """Answer the next ``times`` matching requests with 503 SlowDown; return a hit counter."""
    hits = [0]
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
        b"<Message>Please reduce your request rate.</Message></Error>"
    )

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        if hits[0] >= times or not when(request):
            return None
        hits[0] += 1
        return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, _Body(body))

    client.meta.events.register("before-send", hook)
    return hits


def settings_for(endpoint: str, **overrides: Any) -> S3Settings:
    return S3Settings(endpoint_url=endpoint, path_style=True, **overrides)


@pytest.fixture
def client(s3_endpoint: str) -> Any:
    return make_client(settings_for(s3_endpoint))


def put(client: Any, bucket: str, key: str, body: bytes = b"x") -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body)


def write_parts(target: DatedTarget, names: list[str], *, fail: bool = False) -> None:
    """Write ``names`` in one partition write; raise inside the block when ``fail``."""
    with target.writer() as writer:
        for name in names:
            writer.write_text(name, "new\n")
        if fail:
            raise RuntimeError("boom")


def test_exists_is_exactly_one_head_of_the_flag(client: Any, s3_bucket: str) -> None:
    target = S3DatedTarget(f"s3://{s3_bucket}/clicks", DAY0, client=client)
    sent = count_requests(client)
    assert target.exists() is False
    assert sent.requests == [("HEAD", f"{client.meta.endpoint_url}/{target.flag_uri[5:]}")]

    put(client, s3_bucket, "clicks/2024-01-01/part-00000.csv")  # parts, no flag: not done
    sent.clear()
    assert target.exists() is False
    assert len(sent) == 1

    put(client, s3_bucket, "clicks/2024-01-01/_SUCCESS", b"")
    sent.clear()
    assert target.exists() is True
    assert len(sent) == 1


def test_bulk_completeness_is_one_paginated_listing(client: Any, s3_bucket: str) -> None:
    dates = [DAY0 + datetime.timedelta(days=i) for i in range(365)]
    missing = set(dates[::7])
    incomplete = set(dates[3::11]) - missing
    keys = []
    for day in dates:
        if day in missing:
            continue
        keys += [f"ds/{day.isoformat()}/part-0000{i}.csv" for i in range(3)]
        if day not in incomplete:
            keys.append(f"ds/{day.isoformat()}/_SUCCESS")
    keys.append("ds_other/2024-03-03/_SUCCESS")  # a sibling prefix never counts
    with ThreadPoolExecutor(8) as pool:  # boto3 clients are thread-safe; setup only
        list(pool.map(lambda key: put(client, s3_bucket, key), keys))
    pages = math.ceil((len(keys) - 1) / 1000)

    sent = count_requests(client)
    complete = DatedTarget.complete_dates(f"s3://{s3_bucket}/ds", dates, client=client)
    assert complete == set(dates) - missing - incomplete
    assert pages == 2
    assert len(sent) == pages
    assert all(method == "GET" and "list-type=2" in url for method, url in sent.requests)

    sent.clear()
    gaps = DatedTarget.gaps(f"s3://{s3_bucket}/ds", dates[0], dates[-1], client=client)
    assert set(gaps.missing) == missing
    assert set(gaps.incomplete) == incomplete
    assert len(gaps.complete) == 365 - len(missing) - len(incomplete)
    assert gaps.requests == len(sent) == pages


def test_a_short_range_lists_only_its_own_keys(client: Any, s3_bucket: str) -> None:
    for i in range(30):
        put(client, s3_bucket, f"ds/{(DAY0 + datetime.timedelta(days=i)).isoformat()}/_SUCCESS")
    sent = count_requests(client)
    start, end = DAY0 + datetime.timedelta(days=10), DAY0 + datetime.timedelta(days=12)
    gaps = DatedTarget.gaps(f"s3://{s3_bucket}/ds", start, end, client=client)
    assert gaps.complete == (start, start + datetime.timedelta(days=1), end)
    assert gaps.requests == len(sent) == 1
    assert "start-after=ds%2F2024-01-11" in sent.requests[0][1]


def test_dates_that_are_not_dates_are_reported_never_counted(client: Any, s3_bucket: str) -> None:
    put(client, s3_bucket, "ds/2024-02-28/_SUCCESS")
    put(client, s3_bucket, "ds/2024-02-30/_SUCCESS")
    put(client, s3_bucket, "ds/2024-2-29/_SUCCESS")
    gaps = DatedTarget.gaps(
        f"s3://{s3_bucket}/ds", datetime.date(2024, 2, 27), datetime.date(2024, 3, 1), client=client
    )
    assert gaps.complete == (datetime.date(2024, 2, 28),)
    assert gaps.missing == (
        datetime.date(2024, 2, 27),
        datetime.date(2024, 2, 29),
        datetime.date(2024, 3, 1),
    )
    assert gaps.invalid_names == ("2024-02-30",)


def test_write_puts_parts_then_flag_last_and_reads_back(client: Any, s3_bucket: str) -> None:
    target = DatedTarget(f"s3://{s3_bucket}/out", DAY0, client=client)
    assert isinstance(target, S3DatedTarget)
    put(client, s3_bucket, "out/2024-01-01/part-old.csv", b"stale\n")
    sent = count_requests(client)
    with target.writer() as writer:
        writer.write_text("part-00000.csv", "state,n\nCA,2\n")
        with writer.open("part-00001.csv.gz") as fh:
            fh.write("TX,1\n")
        with writer.open("blob.bin", "wb") as fh:
            fh.write(b"\x00\x01")
    puts = [url for method, url in sent.requests if method == "PUT"]
    assert puts[-1].endswith("/out/2024-01-01/_SUCCESS")
    assert len(puts) == 4
    assert target.exists()
    assert list(target.iter_parts()) == ["blob.bin", "part-00000.csv", "part-00001.csv.gz"]
    assert target.part_uris()[0] == f"s3://{s3_bucket}/out/2024-01-01/blob.bin"
    with target.open_part("part-00001.csv.gz") as fh:
        assert fh.read() == "TX,1\n"
    with target.open_part("part-00001.csv.gz", "rb") as fh:
        assert fh.read() == b"TX,1\n"
    raw = client.get_object(Bucket=s3_bucket, Key="out/2024-01-01/part-00001.csv.gz")
    assert gzip.decompress(raw["Body"].read()) == b"TX,1\n"
    with target.open_part("blob.bin", "rb") as fh:
        assert fh.read() == b"\x00\x01"
    lines = []
    for name in target.iter_parts():
        if name.startswith("part-"):
            with target.open_part(name) as fh:
                lines.extend(fh)
    assert lines == ["state,n\n", "CA,2\n", "TX,1\n"]


def test_failure_in_the_block_uploads_nothing(client: Any, s3_bucket: str) -> None:
    target = S3DatedTarget(f"s3://{s3_bucket}/out", DAY0, client=client)
    sent = count_requests(client)
    with pytest.raises(RuntimeError, match="boom"):
        write_parts(target, ["part-00000.csv"], fail=True)
    assert sent.requests == []
    assert not target.exists()


def test_failure_during_upload_leaves_no_flag(s3_endpoint: str, s3_bucket: str) -> None:
    client = make_client(settings_for(s3_endpoint, max_attempts=2))
    target = S3DatedTarget(f"s3://{s3_bucket}/out", DAY0, client=client)
    with target.writer() as writer:
        writer.write_text("part-00000.csv", "old\n")
    assert target.exists()
    hits = inject_503(client, 10, lambda r: r.method == "PUT" and "part-00001" in r.url)
    with pytest.raises(StorageError, match="max_attempts"):
        write_parts(target, ["part-00000.csv", "part-00001.csv"])
    assert hits[0] >= 2  # every attempt the retry config allowed was throttled
    assert not target.exists()  # the old flag is gone and no new one was written


def test_503_slowdown_bursts_are_ridden_out_by_retries(client: Any, s3_bucket: str) -> None:
    root = f"s3://{s3_bucket}/ds"
    put(client, s3_bucket, "ds/2024-01-01/_SUCCESS")
    sent = count_requests(client)
    hits = inject_503(client, 2)
    assert S3DatedTarget(root, DAY0, client=client).exists()
    assert hits[0] == 2
    assert len(sent) == 3  # two throttled attempts and the one that answered

    hits = inject_503(client, 2, lambda r: "list-type=2" in r.url)
    assert DatedTarget.complete_dates(root, [DAY0, DAY0.replace(day=2)], client=client) == {DAY0}
    assert hits[0] == 2


def test_adaptive_retry_mode_rides_out_a_burst_too(s3_endpoint: str, s3_bucket: str) -> None:
    client = make_client(settings_for(s3_endpoint, retry_mode="adaptive", max_attempts=4))
    client.put_object(Bucket=s3_bucket, Key="ds/2024-01-01/_SUCCESS", Body=b"")
    hits = inject_503(client, 1)
    assert DatedTarget.complete_dates(f"s3://{s3_bucket}/ds", [DAY0], client=client) == {DAY0}
    assert hits[0] == 1


def test_retries_exhausted_give_a_clear_error(s3_endpoint: str, s3_bucket: str) -> None:
    client = make_client(settings_for(s3_endpoint, max_attempts=2))
    inject_503(client, 100)
    with pytest.raises(StorageError, match=r"\((503|SlowDown)\).*max_attempts"):
        S3DatedTarget(f"s3://{s3_bucket}/ds", DAY0, client=client).exists()
    with pytest.raises(StorageError, match=r"SlowDown.*max_attempts"):
        DatedTarget.gaps(f"s3://{s3_bucket}/ds", DAY0, DAY0, client=client)


def test_a_missing_bucket_gives_a_clear_error(client: Any) -> None:
    root = "s3://no-such-bucket-luigi-ufo/ds"
    with pytest.raises(StorageError, match="'no-such-bucket-luigi-ufo' does not exist"):
        DatedTarget.gaps(root, DAY0, DAY0, client=client)
    with pytest.raises(StorageError, match="does not exist"):
        list(S3DatedTarget(root, DAY0, client=client).iter_parts())
    # One HEAD cannot tell a missing bucket from a missing flag: either way it is not done.
    assert S3DatedTarget(root, DAY0, client=client).exists() is False


def test_client_comes_from_s3_endpoint_config(
    s3_endpoint: str, s3_bucket: str, luigi_config: Callable[[str, str, str], None]
) -> None:
    luigi_config("s3_endpoint", "endpoint_url", s3_endpoint)
    luigi_config("s3_endpoint", "path_style", "true")
    target = S3DatedTarget(f"s3://{s3_bucket}/cfg", DAY0)
    with target.writer() as writer:
        writer.write_text("part-00000.csv", "a\n")
    assert S3DatedTarget(f"s3://{s3_bucket}/cfg", DAY0).exists()
    assert DatedTarget.complete_dates(f"s3://{s3_bucket}/cfg", [DAY0]) == {DAY0}


def test_a_bucket_root_works_like_a_prefix(client: Any, s3_bucket: str) -> None:
    put(client, s3_bucket, "2024-01-01/_SUCCESS")
    put(client, s3_bucket, "2024-01-02/part-00000.csv")
    put(client, s3_bucket, "notes.txt")
    gaps = DatedTarget.gaps(f"s3://{s3_bucket}", DAY0, DAY0.replace(day=3), client=client)
    assert gaps.complete == (DAY0,)
    assert gaps.incomplete == (DAY0.replace(day=2),)
    assert gaps.missing == (DAY0.replace(day=3),)
    assert S3DatedTarget(f"s3://{s3_bucket}/", DAY0, client=client).exists()


def test_remove_flag_deletes_only_the_flag(client: Any, s3_bucket: str) -> None:
    target = S3DatedTarget(f"s3://{s3_bucket}/clicks", DAY0, client=client)
    other = S3DatedTarget(
        f"s3://{s3_bucket}/clicks", DAY0 + datetime.timedelta(days=1), client=client
    )
    write_parts(target, ["part-00000.csv"])
    write_parts(other, ["part-00000.csv"])
    sent = count_requests(client)
    target.remove_flag()
    assert [method for method, _ in sent.requests] == ["POST"]  # one DeleteObjects
    assert not target.exists()
    assert list(target.iter_parts()) == ["part-00000.csv"]  # data stays for the next write
    assert other.exists()
    target.remove_flag()  # already gone: no error
    assert S3DatedTarget.complete_dates(
        f"s3://{s3_bucket}/clicks", [target.date, other.date], client=client
    ) == {other.date}


def test_lineage_records_and_etag_identities_come_with_the_flags_listing(
    client: Any, s3_bucket: str
) -> None:
    root = f"s3://{s3_bucket}/lin"
    days = [DAY0 + datetime.timedelta(days=i) for i in range(3)]
    targets = [S3DatedTarget(root, d, client=client) for d in days]
    made = Lineage((("in", "content:1:ab"),), code="c" * 64)
    with targets[0].writer(lineage=made) as out:
        out.write_text("part-00000.csv", "same\n")
    for target in targets[1:]:  # put there by other means: no record
        with target.writer() as out:
            out.write_text("part-00000.csv", "same\n")
    sent = count_requests(client)
    recorded = targets[0].bulk_lineage(targets)
    identities = [identity for identity, _ in targets[0].bulk_identity(targets)]
    assert len(sent) == 2  # one listing each
    assert [stamp for stamp, _ in recorded] == [made.stamp, None, None]
    assert all(finished is not None for _, finished in recorded)  # each flag's LastModified
    assert identities[0] == f"made:{made.stamp}"
    # Same bytes, same ETag: the same identity; other bytes: another one.
    assert identities[1] == identities[2]
    with targets[2].writer() as out:
        out.write_text("part-00000.csv", "other\n")
    assert targets[0].bulk_identity(targets)[2][0] != identities[2]
    # A new record replaces the old one.
    newer = Lineage((("in", "content:2:cd"),))
    targets[0].record_lineage(newer)
    keys = [
        o["Key"]
        for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="lin/2024-01-01/")["Contents"]
    ]
    assert sorted(keys) == [
        "lin/2024-01-01/_SUCCESS",
        f"lin/2024-01-01/_lineage.{newer.stamp}.json",
        "lin/2024-01-01/part-00000.csv",
    ]
    assert targets[0].read_lineage()["inputs"] == [  # type: ignore[index]
        {"input": "in", "identity": "content:2:cd"}
    ]
