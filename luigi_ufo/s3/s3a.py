"""Derive Spark's ``spark.hadoop.fs.s3a.*`` conf and the credentials for it from S3Settings.

Conf values end up in spark-submit's argv, so :func:`s3a_conf` never holds secrets. Credentials
travel either as ``AWS_*`` environment variables (:func:`s3a_env`, read by the SDK's environment
provider; enough for a local master) or as Hadoop properties (:func:`s3a_credentials_conf`) that
belong in a private properties file, never in argv (executors on a cluster do not inherit
spark-submit's environment).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from luigi_ufo.s3.settings import S3Settings

PREFIX = "spark.hadoop.fs.s3a."
# SDK v1 name; Hadoop 3.4+ maps it onto the SDK v2 provider, so it works on both lines.
ENV_CREDENTIALS_PROVIDER = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"
# Read fs.s3a.access.key/secret.key (and session.token) from the Hadoop conf; hadoop-aws 3.x.
SIMPLE_CREDENTIALS_PROVIDER = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
TEMPORARY_CREDENTIALS_PROVIDER = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
# Hadoop 3.4+ ships core-default durations like "60s" that hadoop-aws 3.3.x jars cannot parse;
# these are the 3.3 defaults as plain numbers (purge age and keep-alive in seconds).
_PLAIN_DURATIONS = {"multipart.purge.age": "86400", "threads.keepalivetime": "60"}


def _version_tuple(version: str | tuple[int, ...] | None) -> tuple[int, ...] | None:
    if version is None or isinstance(version, tuple):
        return version
    numbers = re.findall(r"\d+", version)
    return tuple(int(n) for n in numbers[:3])


def s3a_conf(
    settings: S3Settings,
    *,
    hadoop_version: str | tuple[int, ...] | None = None,
    env_credentials: bool = True,
) -> dict[str, str]:
    """Return ``spark.hadoop.fs.s3a.*`` conf for ``settings``, without any secret.

    ``hadoop_version`` is the Hadoop of the Spark that will run (``"3.3.4"``, ``(3, 4)``). For
    3.4+ or None (unknown) the environment credentials provider and plain-number durations are
    added too; they are valid on 3.3 as well. ``env_credentials=False`` leaves the provider out,
    for credentials delivered by :func:`s3a_credentials_conf` (which names its own provider).
    """
    conf = {
        "path.style.access": "true" if settings.path_style else "false",
        "endpoint.region": settings.region,
        "attempts.maximum": str(settings.max_attempts),
    }
    if settings.endpoint_url:
        conf["endpoint"] = settings.endpoint_url
        conf["connection.ssl.enabled"] = (
            "true" if settings.endpoint_url.startswith("https://") else "false"
        )
    version = _version_tuple(hadoop_version)
    if version is None or version >= (3, 4):
        if env_credentials:
            conf["aws.credentials.provider"] = ENV_CREDENTIALS_PROVIDER
        conf["connection.establish.timeout"] = str(round(settings.connect_timeout * 1000))
        conf["connection.timeout"] = str(round(settings.read_timeout * 1000))
        conf.update(_PLAIN_DURATIONS)
    return {PREFIX + key: value for key, value in sorted(conf.items())}


def s3a_env(settings: S3Settings, *, session: Any = None) -> dict[str, str]:
    """Return the ``AWS_*`` env vars carrying credentials (from the boto3 chain) to Spark.

    Returns only the region when the chain finds no credentials (anonymous access).
    """
    env = s3a_region_env(settings)
    frozen = chain_credentials(session)
    if frozen is None:
        return env
    env["AWS_ACCESS_KEY_ID"] = frozen.access_key
    env["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
    if frozen.token:
        env["AWS_SESSION_TOKEN"] = frozen.token
    return env


def s3a_region_env(settings: S3Settings) -> dict[str, str]:
    """Return the ``AWS_*`` env vars naming the region (no secret)."""
    return {"AWS_REGION": settings.region, "AWS_DEFAULT_REGION": settings.region}


def chain_credentials(session: Any = None) -> Any:
    """Return the boto3 chain's frozen credentials (access_key, secret_key, token), or None."""
    if session is None:
        import boto3

        session = boto3.session.Session()
    credentials = session.get_credentials()
    return None if credentials is None else credentials.get_frozen_credentials()


def s3a_credentials_conf(credentials: Any) -> dict[str, str]:
    """Return the ``spark.hadoop.fs.s3a.*`` credential properties for frozen ``credentials``.

    These are secrets: write them to a private (0600) properties file, never to argv. The
    provider is pinned, so s3a reads exactly these keys and no variable of some environment.
    """
    conf = {
        "access.key": credentials.access_key,
        "secret.key": credentials.secret_key,
        "aws.credentials.provider": SIMPLE_CREDENTIALS_PROVIDER,
    }
    if credentials.token:
        conf["session.token"] = credentials.token
        conf["aws.credentials.provider"] = TEMPORARY_CREDENTIALS_PROVIDER
    return {PREFIX + key: value for key, value in sorted(conf.items())}


def installed_hadoop_version() -> tuple[int, ...] | None:
    """Return the Hadoop version bundled with the installed pyspark, or None."""
    try:
        import pyspark
    except ImportError:
        return None
    jars = Path(pyspark.__file__).parent / "jars"
    for jar in sorted(jars.glob("hadoop-client-api-*.jar")) if jars.is_dir() else []:
        found = _version_tuple(jar.name.removeprefix("hadoop-client-api-"))
        if found:
            return found
    return None


__all__ = [
    "ENV_CREDENTIALS_PROVIDER",
    "SIMPLE_CREDENTIALS_PROVIDER",
    "TEMPORARY_CREDENTIALS_PROVIDER",
    "chain_credentials",
    "installed_hadoop_version",
    "s3a_conf",
    "s3a_credentials_conf",
    "s3a_env",
    "s3a_region_env",
]
