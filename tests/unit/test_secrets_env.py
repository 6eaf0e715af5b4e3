"""Credential variables: masked by value everywhere, PGPASSWORD kept from spark-submit."""

from __future__ import annotations

from luigi_ufo.secrets import CREDENTIAL_ENV, credential_values, without_withheld


def test_documented_credentials_are_masked() -> None:
    for name in (
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "PGPASSWORD",
        "SPARK_CONNECT_AUTHENTICATE_TOKEN",
    ):
        assert name in CREDENTIAL_ENV


def test_values_of_every_environment_and_extra_names() -> None:
    worker = {"PGPASSWORD": "pg-pw", "AWS_ACCESS_KEY_ID": "AKID", "MY_TOKEN": "tok"}
    child = {"AWS_SECRET_ACCESS_KEY": "aws-secret", "EMPTY": ""}
    assert credential_values([worker, child]) == ["aws-secret", "pg-pw"]
    extra = credential_values([worker, child], ["MY_TOKEN", "EMPTY"])
    assert extra == ["aws-secret", "pg-pw", "tok"]


def test_pgpassword_reaches_spark_submit_only_when_the_task_asks() -> None:
    environ = {"PGPASSWORD": "pg-pw", "PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "s"}
    assert without_withheld(environ, {}) == {"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "s"}
    assert without_withheld(environ, {"PGPASSWORD": "pg-pw"})["PGPASSWORD"] == "pg-pw"


def test_a_password_inside_a_url_of_any_variable_is_masked() -> None:
    env = {"DATABASE_URL": "postgresql://app:p%40ss-w0rd@db:5432/app", "HOME": "/root"}
    assert credential_values([env]) == ["p%40ss-w0rd", "p@ss-w0rd"]
