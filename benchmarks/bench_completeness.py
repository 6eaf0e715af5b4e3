"""Completeness of many dated S3 partitions on a moto server: requests, wall time, gaps found.

Variants per dataset size (some dates missing, some with parts but no flag):
- ``bulk complete_dates``: luigi-ufo's one paginated ListObjectsV2;
- ``RangeDaily + DatedTaskMixin``: the same through Luigi's range machinery;
- ``S3DatedTarget.exists() per date``: one HEAD each;
- ``luigi S3FlagTarget per date``: Luigi's own flag target (baseline);
- ``luigi RangeDaily fallback``: Luigi's glob-listing inference for a task without bulk_complete;
- ``RangeDaily + DatedTaskMixin, rebuild_when=inputs``: a task made from an input dataset,
  complete only where its lineage record matches its input's identity now (every 23rd date was
  made from an older input): the output's and the input's listings, shared with the requirements'
  check. ``listings`` counts paginated listings, ``requests`` their pages (1,000 keys each; a
  lineage record is one more key per partition).

``LUIGI_UFO_BENCH_COMPLETENESS_SIZES`` (e.g. ``365``) picks the sizes.
"""

from __future__ import annotations

import calendar
import datetime
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import luigi
from luigi.contrib.s3 import S3Client, S3FlagTarget
from luigi.tools.range import RangeDaily

from benchmarks._common import Row, repeat
from luigi_ufo.dated import DatedTarget, DatedTaskMixin
from luigi_ufo.dated.paths import lineage_name
from luigi_ufo.dated.s3_storage import S3Storage
from luigi_ufo.lineage import expect
from luigi_ufo.s3 import S3DatedTarget, S3Settings
from luigi_ufo.s3.client import make_client

NAME = "completeness"
TITLE = "Completeness of N dated S3 partitions (moto): bulk listing vs per-date checks"

START = datetime.date(2020, 1, 1)
_LUIGI_CLIENT: dict[str, Any] = {}  # the Luigi S3Client the benchmark's Luigi tasks use
_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class BenchFlagDaily(luigi.Task):
    """A daily task with Luigi's S3FlagTarget output and no bulk_complete (Luigi's anchor)."""

    date = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self) -> S3FlagTarget:
        return S3FlagTarget(f"{self.root}/{self.date.isoformat()}/", client=_LUIGI_CLIENT["c"])


class BenchDatedDaily(DatedTaskMixin, luigi.Task):
    """The same task with a dated output and luigi-ufo's bulk_complete."""

    date = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self) -> DatedTarget:
        return S3DatedTarget(self.root, self.date, client=_LUIGI_CLIENT["ours"])


class BenchRawDaily(DatedTaskMixin, luigi.ExternalTask):
    """The input dataset of BenchMadeDaily, put there by other means (no lineage record)."""

    date = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self) -> DatedTarget:
        return S3DatedTarget(self.root, self.date, client=_LUIGI_CLIENT["ours"])


class BenchMadeDaily(DatedTaskMixin, luigi.Task):
    """A daily task made from BenchRawDaily: complete only when made from today's input."""

    date = luigi.DateParameter()
    root = luigi.Parameter()
    raw = luigi.Parameter()
    rebuild_when = "inputs"

    def requires(self) -> BenchRawDaily:
        return BenchRawDaily(date=self.date, root=self.raw)

    def output(self) -> DatedTarget:
        return S3DatedTarget(self.root, self.date, client=_LUIGI_CLIENT["ours"])


class Counter:
    """Count HTTP requests a boto3 client sends (retries included)."""

    def __init__(self, client: Any) -> None:
        self.n = 0
        client.meta.events.register("before-send", self._hook)

    def _hook(self, **_: Any) -> None:
        self.n += 1


@contextmanager
def _moto() -> Iterator[str]:
    from luigi_ufo.testing.s3 import start_s3

    saved = {k: os.environ.get(k) for k in _FAKE_AWS}
    os.environ.update(_FAKE_AWS)
    service = start_s3()
    try:
        yield service.endpoint
    finally:
        service.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _populate(client: Any, bucket: str, prefix: str, n: int) -> set[datetime.date]:
    """Write ``n`` dates (2 parts + flag); every 10th missing, every 17th without flag."""
    dates = [START + datetime.timedelta(days=i) for i in range(n)]
    to_run: set[datetime.date] = set()
    keys: list[str] = []
    for i, day in enumerate(dates):
        if i % 10 == 3:
            to_run.add(day)
            continue
        keys += [f"{prefix}/{day.isoformat()}/part-0000{p}.csv" for p in range(2)]
        if i % 17 == 5:
            to_run.add(day)
        else:
            keys.append(f"{prefix}/{day.isoformat()}/_SUCCESS")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))
    return to_run


def _populate_lineage(client: Any, bucket: str, n: int) -> set[datetime.date]:
    """Write an input dataset ``raw`` (2 parts + flag each date) and ``made`` from it as
    :func:`_populate` does, plus a lineage record per flagged date: every 23rd an older one."""
    dates = [START + datetime.timedelta(days=i) for i in range(n)]
    raw = [f"raw/{d.isoformat()}/{name}" for d in dates for name in ("a.csv", "b.csv", "_SUCCESS")]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=k.encode()), raw))
    to_run = _populate(client, bucket, "made", n)
    root, raw_root = f"s3://{bucket}/made", f"s3://{bucket}/raw"
    tasks = [BenchMadeDaily(date=d, root=root, raw=raw_root) for d in dates]
    keys = []
    for i, (day, made) in enumerate(zip(dates, expect(tasks, code=False), strict=True)):
        if day in to_run:
            continue
        stamp = made.stamp if i % 23 != 7 else "0123456789abcdef.none"
        if i % 23 == 7:
            to_run.add(day)
        keys.append(f"made/{day.isoformat()}/{lineage_name(stamp)}")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=b"{}"), keys))
    return to_run


class Listings:
    """Count the paginated S3 listings made (each may take several requests)."""

    def __init__(self) -> None:
        self.n = 0
        self._original = S3Storage.list_objects

    def __enter__(self) -> Listings:
        def counting(storage: S3Storage, *args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return self._original(storage, *args, **kwargs)

        S3Storage.list_objects = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        S3Storage.list_objects = self._original  # type: ignore[method-assign]


def _range(task: type[luigi.Task], root: str, n: int, **params: str) -> RangeDaily:
    stop = START + datetime.timedelta(days=n)
    return RangeDaily(
        of=task,
        of_params={"root": root, **params},
        start=START,
        stop=stop,
        now=calendar.timegm(stop.timetuple()),
        days_back=n + 1,
        task_limit=n,
        param_name="date",
    )


def _measure(
    variant: str,
    fn: Callable[[], set[datetime.date]],
    counter: Counter,
    truth: set[datetime.date],
    runs: int,
    baseline: bool = False,
) -> Row:
    before = counter.n
    samples, found = repeat(fn, runs)
    requests = (counter.n - before) // runs
    return Row(
        variant,
        samples,
        extra={
            "requests": requests,
            "gaps_true": len(truth),
            "gaps_found": len(found & truth),
            "false_gaps": len(found - truth),  # complete dates reported as gaps
            "found_every_gap": "yes" if found >= truth else "NO",
        },
        baseline=baseline,
    )


def _section(endpoint: str, n: int, runs: int) -> list[Row]:
    settings = S3Settings(endpoint_url=endpoint, path_style=True)
    ours = make_client(settings)
    bucket = f"bench-{n}"
    ours.create_bucket(Bucket=bucket)
    root = f"s3://{bucket}/ds"
    truth = _populate(ours, bucket, "ds", n)
    dates = [START + datetime.timedelta(days=i) for i in range(n)]
    all_dates = set(dates)
    counter = Counter(ours)
    _LUIGI_CLIENT["ours"] = ours

    from botocore.config import Config

    luigi_fs = S3Client(
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    _LUIGI_CLIENT["c"] = luigi_fs
    luigi_counter = Counter(luigi_fs.s3.meta.client)

    def bulk() -> set[datetime.date]:
        return all_dates - DatedTarget.complete_dates(root, dates, client=ours)

    def per_date_exists() -> set[datetime.date]:
        return {d for d in dates if not S3DatedTarget(root, d, client=ours).exists()}

    def luigi_flag() -> set[datetime.date]:
        return {
            d
            for d in dates
            if not S3FlagTarget(f"{root}/{d.isoformat()}/", client=luigi_fs).exists()
        }

    def datetimes() -> list[datetime.datetime]:
        return [datetime.datetime(d.year, d.month, d.day) for d in dates]

    def range_mixin() -> set[datetime.date]:
        luigi.task_register.Register.clear_instance_cache()
        missing = _range(BenchDatedDaily, root, n).missing_datetimes(datetimes())
        return {m.date() for m in missing}

    def range_fallback() -> set[datetime.date]:
        luigi.task_register.Register.clear_instance_cache()
        missing = _range(BenchFlagDaily, root, n).missing_datetimes(datetimes())
        return {m.date() for m in missing}

    lineage_truth = _populate_lineage(ours, bucket, n)
    listings = Listings()

    def range_lineage() -> set[datetime.date]:
        luigi.task_register.Register.clear_instance_cache()
        ranged = _range(BenchMadeDaily, f"s3://{bucket}/made", n, raw=f"s3://{bucket}/raw")
        with listings:
            missing = ranged.missing_datetimes(datetimes())
        return {m.date() for m in missing}

    lineage_row = _measure(
        "RangeDaily + DatedTaskMixin, rebuild_when=inputs",
        range_lineage,
        counter,
        lineage_truth,
        runs,
    )
    lineage_row.extra["listings"] = listings.n // runs
    return [
        _measure("bulk complete_dates (1 listing)", bulk, counter, truth, runs),
        _measure("RangeDaily + DatedTaskMixin", range_mixin, counter, truth, runs),
        lineage_row,
        _measure("S3DatedTarget.exists() per date", per_date_exists, counter, truth, runs),
        _measure("luigi S3FlagTarget per date", luigi_flag, luigi_counter, truth, runs, True),
        _measure("luigi RangeDaily fallback", range_fallback, luigi_counter, truth, runs),
    ]


def run(quick: bool) -> dict[str, list[Row]]:
    """Measure each variant for 365 and 3,650 dates (quick: 40 dates, one run)."""
    chosen = os.environ.get("LUIGI_UFO_BENCH_COMPLETENESS_SIZES")
    sizes = [40] if quick else [int(n) for n in (chosen or "365,3650").split(",")]
    runs = 1 if quick else 5
    sections: dict[str, list[Row]] = {}
    with _moto() as endpoint:
        for n in sizes:
            sections[f"{n} dates"] = _section(endpoint, n, runs)
    return sections
