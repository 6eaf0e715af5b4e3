from __future__ import annotations

import boto3
import pytest

pytestmark = pytest.mark.integration


def test_put_then_get_round_trips(s3_endpoint: str, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.put_object(Bucket=s3_bucket, Key="ufo/2026-11-24/part-0.csv", Body=b"state\nCA\n")
    body = client.get_object(Bucket=s3_bucket, Key="ufo/2026-11-24/part-0.csv")["Body"].read()
    assert body == b"state\nCA\n"
    listed = client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [obj["Key"] for obj in listed] == ["ufo/2026-11-24/part-0.csv"]


def test_each_test_gets_a_fresh_empty_bucket(s3_endpoint: str, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    assert client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    assert s3_endpoint.startswith("http://")


def test_boto3_sees_only_the_fake_credentials(s3_endpoint: str) -> None:
    credentials = boto3.Session().get_credentials()
    assert credentials is not None
    assert credentials.access_key == "testing"
    assert credentials.secret_key == "testing"
