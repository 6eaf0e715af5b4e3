"""The reference pipeline run the seed's way (``python -m luigi``) on real services.

Cluster: luigid with two workers, Spark on a standalone master, two dates into PostgreSQL.
S3: the lake on a moto server, Spark reading and writing ``s3a://`` with the real hadoop-aws jars.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from luigi_ufo.ufo.sample import SampleSummary, write_sample

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def write_config(path: Path, sections: dict[str, dict[str, str]]) -> Path:
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {value}" for key, value in options.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def luigi_run(config: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config)}
    argv = [sys.executable, "-m", "luigi", "--module", "luigi_ufo.ufo", *args]
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "This progress looks :)" in result.stderr, result.stderr[-4000:]
    return result


def import_raw(config: Path, cwd: Path, date: str, source: Path, *scheduler: str) -> None:
    luigi_run(config, cwd, "ImportUFOExport", "--date", date, "--source", str(source), *scheduler)


def table_rows(dsn: str, date: str) -> list[tuple[int, str, int]]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT rank, state, sightings FROM ufo_top_states WHERE date = %s ORDER BY rank",
            (datetime.date.fromisoformat(date),),
        )
        rows: list[tuple[int, str, int]] = cur.fetchall()
    conn.close()
    return rows


def expected_top(sample: SampleSummary, n: int = 10) -> list[tuple[int, str, int]]:
    ordered = sorted(sample.states.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(rank, state, count) for rank, (state, count) in enumerate(ordered, start=1)]


def test_two_dates_through_luigid_with_two_workers_on_a_spark_cluster(
    spark_master: Any, luigid: Any, postgres_dsn: str, tmp_path: Path
) -> None:
    dates = {"2023-03-01": 1, "2023-03-02": 2}
    samples = {d: write_sample(tmp_path / f"{d}.csv.gz", 3_000, seed=s) for d, s in dates.items()}
    config = write_config(
        tmp_path / "luigi.cfg",
        {
            "lake": {"root": str(tmp_path / "lake")},
            "spark_script": {"master": spark_master.master_url, "total_executor_cores": "1"},
            "postgres_topn": {"dsn": postgres_dsn},
        },
    )
    scheduler = ("--scheduler-url", luigid.url)
    for date, sample in samples.items():
        import_raw(config, tmp_path, date, sample.path, *scheduler)
    luigi_run(
        config,
        tmp_path,
        "RangeDaily",
        "--of",
        "TopStatesToDatabase",
        "--start",
        "2023-03-01",
        "--stop",
        "2023-03-03",
        # RangeDaily looks only days_back (default 100) days into the past from now.
        "--days-back",
        "100000",
        "--workers",
        "2",
        *scheduler,
    )
    for date, sample in samples.items():
        assert table_rows(postgres_dsn, date) == expected_top(sample)
    done = [t for t in luigid.task_list("DONE") if "2023_03_0" in t]
    for family in ("ReadUFOs", "AggregateUFOsByState", "TopTenStates", "TopStatesToDatabase"):
        assert sum(t.startswith(family + "_") for t in done) == 2, (family, done)
    # luigid is shared by the session: other tests' tasks (some fail on purpose) are there too.
    assert not [t for t in luigid.task_list("FAILED") if "2023_03_0" in t]
    assert not [t for t in luigid.task_list("PENDING") if "2023_03_0" in t]


def test_lake_on_s3_with_spark_on_s3a(
    s3_endpoint: str, s3_bucket: str, s3a_jars: list[str], postgres_dsn: str, tmp_path: Path
) -> None:
    import boto3

    date = "2024-03-01"
    sample = write_sample(tmp_path / "export.csv", 3_000, seed=3)
    config = write_config(
        tmp_path / "luigi.cfg",
        {
            "lake": {"root": f"s3://{s3_bucket}/lake"},
            "s3_endpoint": {"endpoint_url": s3_endpoint, "path_style": "true"},
            "spark_script": {"master": "local[2]", "jars": json.dumps(s3a_jars)},
            "postgres_topn": {"dsn": postgres_dsn},
        },
    )
    import_raw(config, tmp_path, date, sample.path, "--local-scheduler")
    luigi_run(config, tmp_path, "TopStatesToDatabase", "--date", date, "--local-scheduler")
    assert table_rows(postgres_dsn, date) == expected_top(sample)

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    listing = s3.list_objects_v2(Bucket=s3_bucket, Prefix="lake/ufo/")
    keys = {obj["Key"] for obj in listing.get("Contents", [])}
    for dataset in ("raw", "by_state", "rejected", "top_states"):
        assert f"lake/ufo/{dataset}/{date}/_SUCCESS" in keys, sorted(keys)
    (part,) = [k for k in keys if k.startswith(f"lake/ufo/rejected/{date}/part-")]
    body = s3.get_object(Bucket=s3_bucket, Key=part)
    rejected = dict(line.split(",") for line in body["Body"].read().decode().split()[1:])
    assert int(rejected["repeated_header"]) == sample.rejected["repeated_header"]
    assert sum(map(int, rejected.values())) + sample.counted == sample.records
