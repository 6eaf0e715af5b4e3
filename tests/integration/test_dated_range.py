"""RangeDaily over a dated S3 dataset schedules every gap (90 days, 30 missing)."""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Callable
from typing import Any

import luigi
import pytest
from luigi.tools.range import RangeDaily

from luigi_ufo.dated import DatedTarget, DatedTaskMixin
from luigi_ufo.s3 import S3Settings
from luigi_ufo.s3.client import default_client, make_client

pytestmark = pytest.mark.integration

START = datetime.date(2024, 1, 1)
DAYS = [START + datetime.timedelta(days=i) for i in range(90)]
MISSING = DAYS[1::4][:20]  # no object at all
INCOMPLETE = DAYS[3::8][:10]  # parts but no flag


class RangeProbeDaily(DatedTaskMixin, luigi.Task):
    """A daily task whose output is a dated dataset under ``root``."""

    date = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self) -> DatedTarget:
        return DatedTarget(self.root, self.date)

    def run(self) -> None:
        with self.output().writer() as writer:
            writer.write_text("part-00000.csv", f"{self.date.isoformat()},1\n")


def _range(root: str) -> RangeDaily:
    stop = DAYS[-1] + datetime.timedelta(days=1)
    now = calendar.timegm(stop.timetuple())  # so days_back covers the whole range
    # param_name given explicitly: Luigi's default (None) warns, and warnings are errors here.
    return RangeDaily(
        of=RangeProbeDaily,
        of_params={"root": root},
        start=START,
        stop=stop,
        now=now,
        param_name="date",
    )


def _populate(put: Callable[[str, bytes], None]) -> None:
    for day in DAYS:
        if day in MISSING:
            continue
        put(f"{day.isoformat()}/part-00000.csv", b"old\n")
        if day not in INCOMPLETE:
            put(f"{day.isoformat()}/_SUCCESS", b"")


def test_range_daily_over_s3_schedules_every_gap(
    s3_endpoint: str, s3_bucket: str, luigi_config: Callable[[str, str, str], None]
) -> None:
    assert len(MISSING) == 20
    assert len(INCOMPLETE) == 10
    luigi_config("s3_endpoint", "endpoint_url", s3_endpoint)
    luigi_config("s3_endpoint", "path_style", "true")
    seed = make_client(S3Settings(endpoint_url=s3_endpoint, path_style=True))
    _populate(lambda key, body: seed.put_object(Bucket=s3_bucket, Key=f"daily/{key}", Body=body))
    root = f"s3://{s3_bucket}/daily"

    sent: list[str] = []
    shared: Any = default_client()  # the client targets built from [s3_endpoint] use
    shared.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    required = _range(root).requires()
    assert [task.date for task in required] == sorted(MISSING + INCOMPLETE)
    assert len(sent) == 1  # one listing for 90 dates, not one request per date

    assert luigi.build([_range(root)], local_scheduler=True, workers=1, log_level="WARNING")
    gaps = DatedTarget.gaps(root, DAYS[0], DAYS[-1], client=seed)
    assert gaps.ok
    assert len(gaps.complete) == 90
    luigi.task_register.Register.clear_instance_cache()  # Luigi caches instances + requires()
    assert _range(root).requires() == []


def test_range_daily_over_a_local_root_schedules_every_gap(tmp_path: Any) -> None:
    root = tmp_path / "daily"

    def put(key: str, body: bytes) -> None:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    _populate(put)
    required = _range(str(root)).requires()
    assert [task.date for task in required] == sorted(MISSING + INCOMPLETE)
    assert luigi.build([_range(str(root))], local_scheduler=True, workers=1, log_level="WARNING")
    assert DatedTarget.gaps(str(root), DAYS[0], DAYS[-1]).ok
    # The rerun of an incomplete date replaced its stale part.
    assert (root / INCOMPLETE[0].isoformat() / "part-00000.csv").read_text() != "old\n"
