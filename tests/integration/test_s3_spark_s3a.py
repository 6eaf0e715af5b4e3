"""Spark writes a dated partition through s3a with only the derived conf and env vars."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from luigi_ufo.s3 import S3DatedTarget, S3Settings, make_client, s3a_conf, s3a_env
from luigi_ufo.s3.s3a import installed_hadoop_version

pytestmark = [pytest.mark.integration, pytest.mark.s3a, pytest.mark.slow]


@pytest.fixture
def spark_s3a(
    s3_endpoint: str,
    s3a_jars: list[str],
    spark_local_master: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    settings = S3Settings(endpoint_url=s3_endpoint, path_style=True)
    # Credentials reach the JVM by environment only; the conf carries none.
    for key, value in s3a_env(settings).items():
        monkeypatch.setenv(key, value)
    builder = (
        SparkSession.builder.master(spark_local_master)
        .appName("luigi-ufo-s3a-conf")
        .config("spark.ui.enabled", "false")
        .config("spark.jars", ",".join(s3a_jars))
    )
    for key, value in s3a_conf(settings, hadoop_version=installed_hadoop_version()).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        yield spark
    finally:
        spark.stop()


def test_spark_output_counts_complete_only_by_its_flag(
    spark_s3a: Any, s3_endpoint: str, s3_bucket: str
) -> None:
    client = make_client(S3Settings(endpoint_url=s3_endpoint, path_style=True))
    target = S3DatedTarget(f"s3://{s3_bucket}/by_state", datetime.date(2024, 1, 15), client=client)
    assert not target.exists()
    frame = spark_s3a.createDataFrame([("CA", 3), ("TX", 1)], ["state", "n"]).coalesce(1)
    frame.write.option("header", True).option("compression", "gzip").csv(target.spark_uri)
    assert target.exists()  # Spark's committer wrote _SUCCESS last
    [part] = target.iter_parts()
    assert part.endswith(".csv.gz")
    assert list(target.read_text()) == ["state,n\n", "CA,3\n", "TX,1\n"]
    back = spark_s3a.read.option("header", True).csv(target.spark_uri).collect()
    assert sorted((r["state"], r["n"]) for r in back) == [("CA", "3"), ("TX", "1")]
