"""Spark's s3a conf and credential env derived from S3Settings, by value; the boto3 client."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from luigi_ufo.errors import ConfigError
from luigi_ufo.s3 import S3Settings
from luigi_ufo.s3.client import botocore_config, make_client
from luigi_ufo.s3.s3a import (
    ENV_CREDENTIALS_PROVIDER,
    SIMPLE_CREDENTIALS_PROVIDER,
    TEMPORARY_CREDENTIALS_PROVIDER,
    chain_credentials,
    s3a_conf,
    s3a_credentials_conf,
    s3a_env,
)

MOTO = S3Settings(
    endpoint_url="http://127.0.0.1:5000",
    region="eu-west-1",
    path_style=True,
    max_attempts=5,
    connect_timeout=5.0,
    read_timeout=200.0,
)


def test_s3a_conf_for_hadoop_33() -> None:
    assert s3a_conf(MOTO, hadoop_version="3.3.4") == {
        "spark.hadoop.fs.s3a.attempts.maximum": "5",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:5000",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
        "spark.hadoop.fs.s3a.path.style.access": "true",
    }


@pytest.mark.parametrize("version", ["3.5.0", (3, 4), None])
def test_s3a_conf_for_hadoop_34_and_later_adds_provider_and_plain_durations(
    version: str | tuple[int, ...] | None,
) -> None:
    conf = s3a_conf(MOTO, hadoop_version=version)
    assert conf == {
        "spark.hadoop.fs.s3a.attempts.maximum": "5",
        "spark.hadoop.fs.s3a.aws.credentials.provider": ENV_CREDENTIALS_PROVIDER,
        "spark.hadoop.fs.s3a.connection.establish.timeout": "5000",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.connection.timeout": "200000",
        "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:5000",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
        "spark.hadoop.fs.s3a.multipart.purge.age": "86400",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.threads.keepalivetime": "60",
    }
    assert ENV_CREDENTIALS_PROVIDER == "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"


def test_s3a_conf_on_aws_has_no_endpoint_and_never_secrets() -> None:
    conf = s3a_conf(S3Settings(), hadoop_version="3.3.4")
    assert "spark.hadoop.fs.s3a.endpoint" not in conf
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "false"
    for settings in (MOTO, S3Settings()):
        keys = " ".join(s3a_conf(settings))
        assert "access.key" not in keys
        assert "secret.key" not in keys
        assert "session.token" not in keys


def test_s3a_env_carries_credentials_from_the_boto3_chain() -> None:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s3cr3t", aws_session_token="tok"
    )
    assert s3a_env(MOTO, session=session) == {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        "AWS_SESSION_TOKEN": "tok",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }


def test_s3a_env_reads_the_environment_by_default(aws_credentials: dict[str, str]) -> None:
    env = s3a_env(MOTO)
    assert env["AWS_ACCESS_KEY_ID"] == aws_credentials["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"] == aws_credentials["AWS_SECRET_ACCESS_KEY"]


def test_botocore_config_and_client_follow_settings() -> None:
    config = botocore_config(S3Settings(retry_mode="adaptive", max_attempts=3, path_style=True))
    assert config.retries == {"mode": "adaptive", "max_attempts": 3}
    assert config.s3 == {"addressing_style": "path"}
    client = make_client(MOTO)
    assert client.meta.endpoint_url == "http://127.0.0.1:5000"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.connect_timeout == 5.0
    assert client.meta.config.read_timeout == 200.0


def test_settings_come_from_s3_endpoint_config(
    luigi_config: Callable[[str, str, str], None],
) -> None:
    luigi_config("s3_endpoint", "endpoint_url", "http://127.0.0.1:9000")
    luigi_config("s3_endpoint", "path_style", "true")
    luigi_config("s3_endpoint", "retry_mode", "adaptive")
    luigi_config("s3_endpoint", "max_attempts", "4")
    settings = S3Settings.from_config()
    assert settings == S3Settings(
        endpoint_url="http://127.0.0.1:9000",
        path_style=True,
        retry_mode="adaptive",
        max_attempts=4,
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retry_mode": "eager"}, "retry_mode"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"read_timeout": 0.0}, r"read_timeout = 0.0 is invalid: a positive duration"),
        ({"endpoint_url": "127.0.0.1:9000"}, "http://"),
    ],
)
def test_bad_settings_raise_config_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        S3Settings(**kwargs)  # type: ignore[arg-type]


def test_s3a_conf_without_env_credentials_names_no_provider() -> None:
    conf = s3a_conf(MOTO, hadoop_version="3.4.1", env_credentials=False)
    assert "spark.hadoop.fs.s3a.aws.credentials.provider" not in conf
    assert conf["spark.hadoop.fs.s3a.connection.timeout"] == "200000"


def test_s3a_credentials_conf_pins_the_provider_to_the_keys() -> None:
    plain = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s3cr3t")
    assert s3a_credentials_conf(chain_credentials(plain)) == {
        "spark.hadoop.fs.s3a.access.key": "AKIDEXAMPLE",
        "spark.hadoop.fs.s3a.secret.key": "s3cr3t",
        "spark.hadoop.fs.s3a.aws.credentials.provider": SIMPLE_CREDENTIALS_PROVIDER,
    }
    temporary = boto3.session.Session(
        aws_access_key_id="ASIAEXAMPLE", aws_secret_access_key="s3cr3t", aws_session_token="tok"
    )
    assert s3a_credentials_conf(chain_credentials(temporary)) == {
        "spark.hadoop.fs.s3a.access.key": "ASIAEXAMPLE",
        "spark.hadoop.fs.s3a.secret.key": "s3cr3t",
        "spark.hadoop.fs.s3a.session.token": "tok",
        "spark.hadoop.fs.s3a.aws.credentials.provider": TEMPORARY_CREDENTIALS_PROVIDER,
    }


def test_chain_credentials_none_when_the_chain_finds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # The autouse fixture points the config files at empty files; no metadata service is asked.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert chain_credentials() is None
    assert s3a_env(MOTO) == {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
