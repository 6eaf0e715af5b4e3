"""Typed ``luigi.Config`` sections of luigi-ufo, read when a task runs, never at import.

Each section is a class; ``ufo_s3()`` reads ``[ufo_s3]`` from luigi.cfg / ``LUIGI_CONFIG_PATH``
at call time. Clients receive resolved values explicitly, so tests can build them directly.
Secrets (AWS keys, PostgreSQL passwords) are never configuration values here: they come from the
environment, the boto3 credential chain or ``.pgpass``.
"""

from __future__ import annotations

import luigi


class ufo_s3(luigi.Config):  # noqa: N801 - luigi names a section after its class
    """``[ufo_s3]``: how boto3 (Luigi side) and Spark's s3a (Spark side) reach S3."""

    endpoint_url = luigi.OptionalParameter(
        default=None, description="S3 endpoint, e.g. http://127.0.0.1:9000 for MinIO; AWS if unset"
    )
    region = luigi.Parameter(default="us-east-1", description="AWS region name")
    path_style = luigi.BoolParameter(
        default=False, description="path-style addressing (MinIO, moto, LocalStack)"
    )
    retry_mode = luigi.ChoiceParameter(
        choices=["standard", "adaptive", "legacy"], default="standard", var_type=str
    )
    max_attempts = luigi.IntParameter(default=8, description="botocore max attempts")
    connect_timeout = luigi.FloatParameter(default=10.0, description="seconds")
    read_timeout = luigi.FloatParameter(default=60.0, description="seconds")


class ufo_spark(luigi.Config):  # noqa: N801
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
    conf = luigi.DictParameter(default={})
    env = luigi.DictParameter(default={})
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


class ufo_postgres(luigi.Config):  # noqa: N801
    """``[ufo_postgres]``: the PostgreSQL server top-N loads write to.

    The password is never a setting: libpq reads ``PGPASSWORD`` or ``~/.pgpass``.
    """

    dsn = luigi.OptionalParameter(
        default=None, description="libpq DSN without password; overrides the fields below"
    )
    host = luigi.Parameter(default="localhost")
    port = luigi.IntParameter(default=5432)
    database = luigi.Parameter(default="postgres")
    user = luigi.OptionalParameter(default=None)
    sslmode = luigi.Parameter(default="prefer")
    connect_timeout = luigi.IntParameter(default=10, description="seconds")
    marker_table = luigi.Parameter(default="luigi_ufo_markers")
