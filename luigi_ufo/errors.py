"""The one exception hierarchy of luigi-ufo.

Every message says what failed, shows the offending value with ``!r`` and says the fix.
Messages never contain secrets or the process environment.
"""

from __future__ import annotations


class LuigiUfoError(Exception):
    """Base class of every error raised by luigi-ufo."""


class ConfigError(LuigiUfoError, ValueError):
    """A configuration value or task attribute is invalid."""


class ServiceError(LuigiUfoError):
    """A service (PostgreSQL, Spark daemon, moto, luigid) could not be started or reached."""


# --- dated datasets (luigi_ufo.dated, luigi_ufo.s3) -------------------------------------------


class DatedTargetError(LuigiUfoError):
    """A dated dataset or one of its partitions is invalid or unreadable."""


class InvalidRootError(DatedTargetError, ValueError):
    """A dataset root URI is malformed (``s3:/x``, empty bucket, unknown scheme)."""


class StorageError(DatedTargetError):
    """The storage behind a dataset failed (missing bucket, access denied, retries exhausted)."""


# --- Spark (luigi_ufo.spark) -------------------------------------------------------------------


class SparkError(LuigiUfoError):
    """A Spark submission could not be built, run or verified."""


class ScriptNotFoundError(SparkError, FileNotFoundError):
    """The external script does not exist or lies outside the scripts directory."""


class SparkSubmitError(SparkError):
    """spark-submit exited non-zero, timed out or was killed."""


class MissingOutputError(SparkError):
    """spark-submit succeeded but an output the task promised does not exist."""


class LeaseError(SparkError):
    """A partition is still being written by another live Spark application."""


class SparkConnectError(SparkSubmitError):
    """A script run through Spark Connect raised, returned non-zero, timed out or was stopped."""


class ConnectUnsupportedError(SparkError, ConfigError):
    """A script uses SparkContext, the RDD API or ``_jvm``, which Spark Connect does not have."""


class BackfillError(SparkError):
    """Some dates of a SparkBackfill are still incomplete after its application ended."""


# --- PostgreSQL (luigi_ufo.postgres) -----------------------------------------------------------


class PostgresError(LuigiUfoError):
    """A top-N load into PostgreSQL could not be specified, read or written."""


class BadInputError(PostgresError, ValueError):
    """An input row cannot be used (missing key, non-numeric measure); names file, line, value."""


class InvalidSpecError(PostgresError, ConfigError):
    """A top-N load spec is invalid: identifier, column type, N, tie rule or partition value."""


class LoadError(PostgresError):
    """A load transaction failed and was rolled back; the table keeps its previous contents."""


# --- reference pipeline (luigi_ufo.ufo) --------------------------------------------------------


class InputFormatError(LuigiUfoError, ValueError):
    """An input file is not what the pipeline expects (wrong header, wrong encoding)."""


class JavaNotFoundError(LuigiUfoError):
    """No Java runtime for spark-submit (neither ``$JAVA_HOME/bin/java`` nor ``java`` on PATH)."""


class DatabaseNotRunningError(ServiceError):
    """luigi.cfg points at the per-user PostgreSQL of ``luigi-ufo db``, and it is not running."""


class PipelineFailedError(LuigiUfoError):
    """A pipeline run finished with failed or missing tasks."""


class ConfigWarning(UserWarning):
    """luigi.cfg holds something luigi-ufo ignores (a misspelt section name)."""
