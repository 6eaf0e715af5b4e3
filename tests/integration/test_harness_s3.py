from __future__ import annotations

import re

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


def test_s3_bucket_is_emptied_and_deleted_after_its_test(
    s3_endpoint: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child session reaches this session's moto through the env-var backend.
    monkeypatch.setenv("LUIGI_UFO_TEST_S3_ENDPOINT", s3_endpoint)
    pytester.makepyfile(
        """
        import os

        import boto3

        def test_fill(s3_endpoint, s3_bucket):
            assert s3_endpoint == os.environ["LUIGI_UFO_TEST_S3_ENDPOINT"]
            s3 = boto3.client("s3", endpoint_url=s3_endpoint)
            for i in range(3):
                s3.put_object(Bucket=s3_bucket, Key=f"k{i}", Body=b"x")
            print("BUCKET=" + s3_bucket)
        """
    )
    result = pytester.runpytest_inprocess("-s")
    result.assert_outcomes(passed=1)
    (bucket,) = re.findall(r"BUCKET=(test-[0-9a-f]+)", result.stdout.str())
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert bucket not in names
