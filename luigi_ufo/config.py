"""Typed ``luigi.Config`` sections of luigi-ufo, read when a task runs, never at import.

Each section is a class; ``ufo_s3()`` reads ``[ufo_s3]`` from luigi.cfg / ``LUIGI_CONFIG_PATH``
at call time. Clients receive resolved values explicitly, so tests can build them directly.
Secrets (AWS keys, PostgreSQL passwords) are never configuration values here: they come from the
environment, the boto3 credential chain or ``.pgpass``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import luigi


class ufo_s3(luigi.Config):
    """``[ufo_s3]``: how boto3 (Luigi side) and Spark's s3a (Spark side) reach S3."""

    endpoint_url = luigi.OptionalParameter(
        default=None, description="S3 endpoint, e.g. http://127.0.0.1:9000 for MinIO; AWS if unset"
    )
    region = luigi.Parameter(default="us-east-1", description="AWS region name")
    path_style = luigi.BoolParameter(
        default=False, description="path-style addressing (MinIO, moto, LocalStack)"
    )
    retry_mode = luigi.ChoiceParameter(
        choices=["standard", "adaptive", "legacy"],
        default="standard",
        var_type=str,
        description="botocore retry mode; 'adaptive' also rate-limits the client on throttling",
    )
    max_attempts = luigi.IntParameter(
        default=8, description="botocore max attempts per request (first try included)"
    )
    connect_timeout = luigi.FloatParameter(default=10.0, description="seconds")
    read_timeout = luigi.FloatParameter(default=60.0, description="seconds")


class ufo_spark(luigi.Config):
    """``[ufo_spark]``: defaults for every ExternalSparkScriptTask (tasks may override)."""

    spark_submit = luigi.OptionalParameter(
        default=None, description="spark-submit path; default: the installed pyspark's"
    )
    master = luigi.Parameter(default="local[*]")
    deploy_mode = luigi.ChoiceParameter(
        choices=["client", "cluster"], default="client", var_type=str
    )
    scripts_dir = luigi.OptionalParameter(
        default=None, description="directory of user scripts; default: the package's own"
    )
    packages = luigi.ListParameter(default=())
    jars = luigi.ListParameter(default=())
    py_files = luigi.ListParameter(default=())
    files = luigi.ListParameter(default=())
    conf: dict[str, Any] = luigi.DictParameter(default={})
    env: dict[str, Any] = luigi.DictParameter(default={})
    driver_memory = luigi.OptionalParameter(default=None)
    executor_memory = luigi.OptionalParameter(default=None)
    driver_cores = luigi.OptionalIntParameter(default=None)
    executor_cores = luigi.OptionalIntParameter(default=None)
    total_executor_cores = luigi.OptionalIntParameter(default=None)
    num_executors = luigi.OptionalIntParameter(default=None)
    queue = luigi.OptionalParameter(default=None)
    extra_args = luigi.ListParameter(default=())
    python = luigi.OptionalParameter(
        default=None, description="interpreter for driver and executors; default: this one"
    )
    timeout = luigi.OptionalFloatParameter(
        default=None, description="seconds before the application is killed"
    )
    supervise = luigi.BoolParameter(
        default=False, description="restart the driver on failure (standalone cluster mode)"
    )
    tail_lines = luigi.IntParameter(
        default=40, description="output lines kept for the error message of a failed run"
    )
    kill_grace = luigi.FloatParameter(
        default=10.0, description="seconds between SIGTERM and SIGKILL when killing a run"
    )
    properties_file = luigi.OptionalParameter(
        default=None, description="private (0600) spark-submit properties file, e.g. for secrets"
    )
    secret_env = luigi.ListParameter(
        default=(),
        description="more environment variables whose values are masked in logs and errors",
    )
    lease_timeout = luigi.FloatParameter(
        default=600.0,
        description="seconds to wait for another live application writing the same output",
    )


class ufo_postgres(luigi.Config):
    """``[ufo_postgres]``: the PostgreSQL server top-N loads write to.

    The password is never a setting: libpq reads ``PGPASSWORD`` or ``~/.pgpass`` (``PGPASSFILE``).
    Unset fields fall back to libpq's own defaults and ``PGHOST``/``PGPORT``/... variables.
    """

    dsn = luigi.OptionalParameter(
        default=None,
        description="libpq DSN or URI without password; its keys win over the fields below",
    )
    host = luigi.OptionalParameter(default=None, description="host name or socket directory")
    port = luigi.OptionalIntParameter(default=None)
    database = luigi.OptionalParameter(default=None)
    user = luigi.OptionalParameter(default=None)
    sslmode = luigi.OptionalParameter(
        default=None, description="disable, allow, prefer, require, verify-ca or verify-full"
    )
    connect_timeout = luigi.IntParameter(default=10, description="seconds")
    application_name = luigi.Parameter(default="luigi-ufo")
    marker_table = luigi.Parameter(
        default="luigi_ufo_markers", description="marker table; 'schema.table' allowed"
    )


class ufo(luigi.Config):
    """``[ufo]``: where the reference UFO pipeline keeps its data and how it reads exports."""

    lake = luigi.OptionalParameter(
        default=None,
        description="lake root, a directory or s3://bucket/prefix; default: a per-user data dir",
    )
    encoding = luigi.Parameter(default="utf-8", description="export encoding, e.g. cp1252")
    delimiter = luigi.Parameter(default=",", description="export delimiter: ',' or 'tab'")
    country_rule = luigi.ChoiceParameter(
        choices=["us-or-blank", "us", "any"],
        default="us-or-blank",
        var_type=str,
        description="Kaggle layout: which country values a US state code counts with",
    )
    decode_errors = luigi.ChoiceParameter(
        choices=["strict", "replace"],
        default="strict",
        var_type=str,
        description="strict: fail on undecodable bytes; replace: count them as rejected",
    )
    top = luigi.IntParameter(default=10, description="N of the top-N states")


@contextlib.contextmanager
def config_overrides() -> Iterator[Callable[[str, str, str], None]]:
    """Yield ``set(section, key, value)`` for luigi's configuration; undo every change after."""
    config = luigi.configuration.get_config()  # type: ignore[no-untyped-call]
    undo: list[Callable[[], None]] = []

    def set_option(section: str, key: str, value: str) -> None:
        if not config.has_section(section):
            config.add_section(section)
            undo.append(lambda: config.remove_section(section))
        elif config.has_option(section, key):
            old = config.get(section, key, raw=True)
            undo.append(lambda: config.set(section, key, old))
        else:
            undo.append(lambda: config.remove_option(section, key))
        config.set(section, key, value)

    try:
        yield set_option
    finally:
        for step in reversed(undo):
            step()


def section_values(section: luigi.Config, value_class: type[Any]) -> dict[str, Any]:
    """Return the options of ``section`` named like the fields of dataclass ``value_class``."""
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(value_class)}
