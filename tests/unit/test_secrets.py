"""Credentials refused by name and by shape, never echoed; masked in every escaped form.

Each case of issue 22 item 2 is a luigi.cfg (or a task override, or a spec) that was accepted and
then seen in spark-submit's argv, the logged command or luigid's error page.
"""

from __future__ import annotations

import json
import re
import shlex
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import luigi
import luigi.configuration
import pytest

from luigi_ufo.errors import ConfigError
from luigi_ufo.postgres.settings import ConnectionSettings
from luigi_ufo.s3.s3a import s3a_conf
from luigi_ufo.s3.settings import S3Settings
from luigi_ufo.spark import ExternalSparkScriptTask, SparkSettings
from luigi_ufo.spark.submit.spec import SubmitSpec, build_argv, mask, mask_argv

CANARY = "CANARY-4f9e1c"
UseConfig = Callable[[str], None]
SetConfig = Callable[[str, str, str], None]


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> UseConfig:
    """Replace luigi's configuration by the text of a luigi.cfg, as read from a file."""

    def use(text: str) -> None:
        parser = luigi.configuration.LuigiConfigParser()
        parser.read_string(text)
        monkeypatch.setattr(luigi.configuration, "get_config", lambda: parser)

    return use


def _spark(text: str) -> tuple[str, Callable[[], Any]]:
    return f"[spark_script]\n{text.replace('%s', CANARY)}\n", SparkSettings.from_config


REFUSED = {
    "azure account key": _spark(
        'conf = {"spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net": "%s"}'
    ),
    "s3a encryption key": _spark('conf = {"spark.hadoop.fs.s3a.encryption.key": "%s"}'),
    "adl oauth2 credential": _spark('conf = {"spark.hadoop.fs.adl.oauth2.credential": "%s"}'),
    "redis auth": _spark('conf = {"spark.redis.auth": "%s"}'),
    "-D...Password= in extraJavaOptions": _spark(
        'conf = {"spark.driver.extraJavaOptions": "-Xss4m -Djavax.net.ssl.keyStorePassword=%s"}'
    ),
    "extra_args spark.ssl.keyPassword": _spark(
        'extra_args = ["--conf", "spark.ssl.keyPassword=%s"]'
    ),
    "env OPENAI_API_KEY": _spark('env = {"OPENAI_API_KEY": "%s"}'),
    "env MYSQL_PWD": _spark('env = {"MYSQL_PWD": "%s"}'),
    "env DATABASE_URL with a password": _spark(
        'env = {"DATABASE_URL": "postgresql://app:%s@db:5432/app"}'
    ),
    "jar URL with user:password@": _spark('jars = ["https://me:%s@repo.example/x.jar"]'),
    "connect_url with ;authorization=Bearer": _spark(
        "connect_url = sc://localhost:15002/;authorization=Bearer %s0123456789"
    ),
    "connect_url with ;token=": _spark("connect_url = sc://localhost:15002/;token=%s"),
    "s3 endpoint with user:secret@": (
        f"[s3_endpoint]\nendpoint_url = http://minio:{CANARY}@127.0.0.1:9000\n",
        S3Settings.from_config,
    ),
    "dsn password=": (
        f"[postgres_topn]\ndsn = host=db dbname=x password={CANARY}\n",
        ConnectionSettings.from_config,
    ),
    "dsn sslpassword=": (
        f"[postgres_topn]\ndsn = host=db dbname=x sslkey=/k.pem sslpassword={CANARY}\n",
        ConnectionSettings.from_config,
    ),
    "dsn URI with user:password@": (
        f"[postgres_topn]\ndsn = postgresql://app:{CANARY}@db/x\n",
        ConnectionSettings.from_config,
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_credential_of_each_shape_is_refused_when_the_section_is_read(
    cfg: UseConfig, case: str
) -> None:
    text, read = REFUSED[case]
    cfg(text)
    with pytest.raises(ConfigError, match="looks like a credential") as caught:
        read()
    message = str(caught.value)
    assert CANARY not in message
    assert "value is not shown" in message
    # Says where the value belongs instead.
    assert any(
        where in message
        for where in (
            "PGPASSWORD",
            "AWS credential chain",
            "properties_file",
            "secret_env",
            "SPARK_CONNECT_AUTHENTICATE_TOKEN",
        )
    ), message


def test_what_describes_a_credential_but_holds_none_passes(cfg: UseConfig) -> None:
    conf = {
        "spark.hadoop.fs.s3a.aws.credentials.provider": "com.amazonaws.auth.InstanceProfile"
        "CredentialsProvider",
        "spark.authenticate": "true",
        "spark.authenticate.secret.file": "/etc/spark/secret",
        "spark.ssl.keyStore": "/etc/spark/keystore.jks",
        "spark.network.crypto.keyLength": "256",
        "spark.security.credentials.hive.enabled": "false",
        "spark.driver.extraJavaOptions": "-Xss4m -Dlog4j.configurationFile=/x.xml",
        "spark.sql.shuffle.partitions": "4",
    }
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "GOOGLE_APPLICATION_CREDENTIALS": "/etc/gcp.json",
        "HADOOP_TOKEN_FILE_LOCATION": "/tmp/tokens",
        "JAVA_HOME": "/usr/lib/jvm/java-17",
    }
    cfg(
        "[spark_script]\n"
        f"conf = {json.dumps(conf)}\nenv = {json.dumps(env)}\n"
        "secret_env = MY_API_TOKEN\nconnect_url = sc://localhost:15002/;user_id=ufo\n"
        "[s3_endpoint]\nendpoint_url = http://127.0.0.1:9000\n"
        "[postgres_topn]\ndsn = postgresql://ufo@/ufo?host=/run/luigi-ufo/pg&passfile=/p\n"
    )
    settings = SparkSettings.from_config()
    assert dict(settings.conf) == conf
    assert S3Settings.from_config().endpoint_url == "http://127.0.0.1:9000"
    assert ConnectionSettings.from_config().dsn is not None


def test_the_projects_own_s3a_conf_reaches_argv() -> None:
    conf = s3a_conf(S3Settings(endpoint_url="http://127.0.0.1:9000", path_style=True))
    argv = build_argv(SubmitSpec(app="job.py", conf=conf))
    assert "spark.hadoop.fs.s3a.aws.credentials.provider=" in " ".join(argv)


def test_a_task_override_that_would_reach_argv_is_refused_at_class_definition() -> None:
    with pytest.raises(ConfigError, match="looks like a credential") as caught:

        class Leaky(ExternalSparkScriptTask):
            script = "job.py"
            spark_overrides = {"conf": {"spark.redis.auth": CANARY}}  # noqa: RUF012

    assert CANARY not in str(caught.value)
    assert "Leaky.spark_overrides" in str(caught.value)

    # The environment is not argv: that is how a task asks for a credential.
    class AsksForPassword(ExternalSparkScriptTask):
        script = "job.py"
        spark_overrides = {"env": {"PGPASSWORD": CANARY}}  # noqa: RUF012

    assert AsksForPassword.spark_overrides["env"]["PGPASSWORD"] == CANARY


@pytest.mark.parametrize(
    "spec",
    [
        SubmitSpec(app="job.py", conf={"spark.ssl.keyPassword": CANARY}),
        SubmitSpec(app="job.py", extra_args=("--conf", f"spark.redis.auth={CANARY}")),
        SubmitSpec(app="job.py", app_args=("--input", f"https://u:{CANARY}@host/x.csv")),
    ],
    ids=["conf", "extra_args", "app_args"],
)
def test_a_spec_built_by_hand_never_puts_a_credential_in_argv(spec: SubmitSpec) -> None:
    with pytest.raises(ConfigError, match="looks like a credential") as caught:
        build_argv(spec)
    assert CANARY not in str(caught.value)


# --- masking: every escaped form of a secret -----------------------------------------------------

AWKWARD = "pa'ss\"w\\rd\tx ü$"


@pytest.mark.parametrize(
    "shown",
    [
        AWKWARD,
        repr(AWKWARD),
        repr({"secret": AWKWARD}),
        json.dumps(AWKWARD),
        json.dumps(AWKWARD, ensure_ascii=False),
        json.dumps({"k": repr(AWKWARD)}),
        shlex.quote(AWKWARD),
        urllib.parse.quote(AWKWARD, safe=""),
        f"postgresql://u:{urllib.parse.quote(AWKWARD, safe='')}@db/x",
    ],
    ids=["raw", "repr", "repr-in-dict", "json", "json-utf8", "json-of-repr", "shell", "url", "dsn"],
)
def test_mask_covers_the_escaped_forms_of_a_secret(shown: str) -> None:
    masked = mask(f"before {shown} after", [AWKWARD])
    assert masked.startswith("before ")
    assert masked.endswith(" after")
    assert "***" in masked
    for form in (AWKWARD, repr(AWKWARD)[1:-1], json.dumps(AWKWARD)[1:-1], "pa'ss", "pa\\'ss"):
        assert form not in masked, (shown, masked)


def test_mask_argv_masks_a_shell_quoted_secret() -> None:
    argv = ["spark-submit", "--name", shlex.quote(AWKWARD), "app.py"]
    assert mask_argv(argv, [AWKWARD]) == ["spark-submit", "--name", "***", "app.py"]


def test_submit_mode_masks_the_connect_token(
    tmp_path: Path, luigi_config: SetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "job.py").write_text("print('hi')\n")
    luigi_config("spark_script", "scripts_dir", str(tmp_path))
    monkeypatch.setenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", CANARY)

    class Job(ExternalSparkScriptTask):
        script = "job.py"

        def output(self) -> Any:
            return luigi.LocalTarget(str(tmp_path / "out"))

    assert CANARY in Job().submit_spec().secrets


def test_a_credential_named_variable_of_the_worker_is_masked_in_submit_mode(
    tmp_path: Path, luigi_config: SetConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "job.py").write_text("print('hi')\n")
    luigi_config("spark_script", "scripts_dir", str(tmp_path))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("SOME_FLAG_TOKEN", "1")  # too short to mask: it would garble every line

    class Job2(ExternalSparkScriptTask):
        script = "job.py"

        def output(self) -> Any:
            return luigi.LocalTarget(str(tmp_path / "out"))

    secrets = Job2().submit_spec().secrets
    assert CANARY in secrets
    assert "1" not in secrets


# --- the rule itself, by value (the table in docs/spark-task.md) --------------------------------


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("spark.hadoop.fs.azure.account.key.acct.blob.core.windows.net", True),
        ("spark.hadoop.fs.azure.sas.container.acct.blob.core.windows.net", True),
        ("spark.hadoop.fs.azure.account.oauth2.client.secret", True),
        ("spark.hadoop.fs.s3a.bucket.b.secret.key", True),
        ("spark.authenticate.secret", True),
        ("spark.ssl.keyStorePassword", True),
        ("spark.ssl.keyPassword", True),
        ("javax.net.ssl.trustStorePassword", True),
        ("spark.hadoop.parquet.encryption.key.list", True),
        ("OPENAI_API_KEY", True),
        ("MYSQL_PWD", True),
        ("GITHUB_TOKEN", True),
        ("sslpassword", True),
        ("SPARK_CONNECT_AUTHENTICATE_TOKEN", True),
        ("spark.hadoop.fs.s3a.aws.credentials.provider", False),
        ("spark.hadoop.hadoop.security.credential.provider.path", False),
        ("spark.authenticate", False),
        ("spark.authenticate.secret.file", False),
        ("spark.ssl.keyStore", False),
        ("spark.ssl.keyStoreType", False),
        ("spark.io.encryption.keySizeBits", False),
        ("spark.hadoop.fs.azure.account.auth.type", False),
        ("spark.kerberos.keytab", False),
        ("spark.hadoop.fs.s3a.delegation.token.binding", False),
        ("spark.hadoop.google.cloud.auth.service.account.json.keyfile", False),
        ("spark.hadoop.fs.gs.auth.service.account.private.key", True),
        ("spark.hadoop.fs.azure.account.oauth2.refresh.token", True),
        ("AWS_ACCESS_KEY_ID", False),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", False),
        ("PWD", False),
        ("passfile", False),
        ("spark.sql.shuffle.partitions", False),
    ],
)
def test_which_names_name_a_credential(name: str, credential: bool) -> None:
    from luigi_ufo.secrets import is_credential_name

    assert is_credential_name(name) is credential


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("postgresql://u:pw@db/x", "URL with a password"),
        ("-Xmx1g -Dfoo.Password=x", "'foo.Password'"),
        ("host=db sslpassword = x", "'sslpassword'"),
        ("sc://h:1/;token=x", "'token'"),
        ("https://a.blob.core.windows.net/c?sv=2020&sig=abc", "'sig'"),
        ('{"api_key": "x"}', "'api_key'"),
        ("Authorization: Bearer abcdefghijkl", "Bearer"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "PEM"),
        ("ghp_" + "a" * 36, "well-known format"),
        ("http://127.0.0.1:9000", None),
        ("k8s://https://10.0.0.1:443", None),
        ("spark://m:7077,n:7077", None),
        ("postgresql://ufo@db:5432/x", None),
        ("/data/tokens/2024-01-01", None),
        ("password=", None),
    ],
)
def test_which_values_hold_a_credential(value: str, shape: str | None) -> None:
    from luigi_ufo.secrets import credential_shape

    found = credential_shape(value)
    if shape is None:
        assert found is None
    else:
        assert found is not None
        assert shape in found


def _doc_table() -> list[tuple[bool, str, bool]]:
    """(checked as a name?, the example, refused?) for each row of the docs' table."""
    doc = (Path(__file__).parents[2] / "docs" / "spark-task.md").read_text(encoding="utf-8")
    table = doc.split("### What configuration refuses, and why", 1)[1].split("\n| example |")[1]
    rows = []
    for line in table.split("\n\n", 1)[0].splitlines()[2:]:
        example, refused = line.split("|")[1:3]
        quoted = re.findall(r"`([^`]+)`", example)
        as_name = " key " in example or len(quoted) == 1
        rows.append(
            (as_name, quoted[-1].split()[-1] if as_name else quoted[-1], refused.strip() == "yes")
        )
    return rows


@pytest.mark.parametrize(("as_name", "item", "refused"), _doc_table())
def test_the_docs_table_says_what_the_rule_does(as_name: bool, item: str, refused: bool) -> None:
    from luigi_ufo.secrets import credential_shape, is_credential_name

    if as_name:
        assert is_credential_name(item) is refused
    else:
        assert (credential_shape(item.replace("...", CANARY)) is not None) is refused
